import AudienceCore
import AudienceServer
import AudienceWire
import Dispatch
import Foundation
import ServiceLifecycle
import Synchronization
import Testing

/// A store that takes ingest batches queued (as the embedded store does), commits them one at a
/// time on its own serial queue after a pause, and fails any batch holding the cookie "fail".
/// An empty group it answers at once, out of order: the server must still acknowledge in order.
final class QueuedStore: QueuedIngest, Service {
  let kind = "queued"
  private let queue = DispatchQueue(label: "queued-store")
  /// Every cookie committed, in commit order.
  let committed = Mutex<[String]>([])
  /// The last commit's failure, until one succeeds (what Health reports).
  let failure = Mutex<String?>(nil)
  var writeFailure: String? { failure.withLock { $0 } }

  func queueIngest(
    groups: consuming [[Record]], contentIDs: [[ContentID]],
    done: @escaping @Sendable (Result<[IngestOutcome], any Error>) -> Void
  ) {
    let records = Array(groups.joined())
    precondition(records.count == contentIDs.joined().count)
    if records.isEmpty { return done(.success([])) }
    queue.async {
      usleep(2_000)
      if records.contains(where: { $0.cookie == "fail" }) {
        self.failure.withLock { $0 = "storage write failed: disk full" }
        return done(.failure(AudienceError(.unavailable, "storage write failed: disk full")))
      }
      self.failure.withLock { $0 = nil }
      self.committed.withLock { $0 += records.map(\.cookie) }
      done(.success(records.indices.map { .created($0) }))
    }
  }

  func ingest(_ records: [Record]) async throws -> [IngestOutcome] {
    try await withCheckedThrowingContinuation { c in
      queueIngest(records, contentIDs: records.map(ContentID.init(of:))) { c.resume(with: $0) }
    }
  }
  func user(cookie: String) async throws -> UserView? { nil }
  func queryCohort(_ query: CohortQuery, categories: InterestCategories) async throws -> CohortPage { CohortPage(total: 0, users: [], nextCursor: nil) }
  func analyze(_ query: AnalyzeQuery, categories: InterestCategories) async throws -> AudienceReport { AudienceReport(total: 0) }
  func stats() async throws -> StoreStats { StoreStats(profiles: 0, records: 0, repeatedEmails: 0) }
  func run() async throws { try? await gracefulShutdown() }
}

/// Ingest streams on a store that takes batches queued: the next group is queued while the
/// previous one commits, yet commits and acknowledgements stay in order, and a failed commit
/// closes the stream.
@Suite("Queued ingest")
struct QueuedIngestTests {
  func withServer(_ store: QueuedStore, _ body: (String) async throws -> Void) async throws {
    try await withInProcessServer(store) { _, path, _ in try await body(path) }
  }

  /// A raw connection past Hello, with ingest stream 10 open.
  static func openStream(_ path: String, window: UInt32) throws -> RawSocket {
    let raw = try RawSocket(path: path)
    try raw.hello()
    raw.send(WireRequest(id: 10, body: .ingestStream(window: window)))
    #expect(try raw.readResponse()?.status.code == .ok)
    return raw
  }

  /// Runs the blocking socket calls on a thread of their own: the server shares this process's
  /// few task threads, and a test blocked in `recv` on one of them would starve it.
  func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { c in
      Thread { c.resume(with: Result { try body() }) }.start()
    }
  }

  static func batch(_ stream: UInt64, _ n: Int, cookies: [String], last: Bool = false) -> WireRequest {
    WireRequest(
      id: 100 + UInt64(n),
      body: .ingestBatch(
        IngestBatch(stream: stream, sequence: UInt64(n), records: cookies.map { RawRecord(cookie: $0) }, last: last)))
  }

  @Test func commitsAndAcknowledgementsStayInOrder() async throws {
    let store = QueuedStore()
    try await withServer(store) { path in try await blocking {
      let raw = try Self.openStream(path, window: 8)
      var expected: [String] = []
      var acks: [UInt64] = []
      for n in 0..<40 {
        // The last batch ends the stream with no records, as the client library's finish() does.
        let cookies = n == 39 ? [] : (0..<50).map { "b\(n)-\($0)" }
        expected += cookies
        raw.send(Self.batch(10, n, cookies: cookies, last: n == 39))
        // Keep 8 in flight: read an acknowledgement for each batch past the window.
        if n >= 7, let ack = try raw.readResponse() {
          #expect(ack.status.code == .ok, "\(ack.id) \(ack.status)")
          acks.append(ack.id)
        }
      }
      while acks.count < 40, let ack = try raw.readResponse() { acks.append(ack.id) }
      #expect(acks == (0..<40).map { 100 + UInt64($0) })
      #expect(store.committed.withLock { $0 } == expected)
    } }
  }

  @Test func aFailedCommitClosesTheStream() async throws {
    let store = QueuedStore()
    try await withServer(store) { path in try await blocking {
      let raw = try Self.openStream(path, window: 4)
      raw.send(Self.batch(10, 0, cookies: ["a", "b"]))
      let first = try raw.readResponse()
      #expect(first?.status.code == .ok, "\(String(describing: first))")
      raw.send(Self.batch(10, 1, cookies: ["c", "fail"]))
      let failed = try raw.readResponse()
      #expect(failed?.id == 101)
      #expect(failed?.status.code == .unavailable && failed?.status.message.contains("disk full") == true, "\(String(describing: failed))")
      raw.send(Self.batch(10, 2, cookies: ["d"]))
      let refused = try raw.readResponse()
      #expect(refused?.status.code == .failedPrecondition, "\(String(describing: refused))")
      #expect(store.committed.withLock { $0 } == ["a", "b"])
      // Health says writes fail (it said "serving" while every write failed on a full disk).
      raw.send(WireRequest(id: 200, body: .health))
      guard case .health(let h)? = try raw.readResponse()?.body else {
        Issue.record("no health answer")
        return
      }
      #expect(h.status == "degraded: writes are failing (storage write failed: disk full)")
      // `audience health || alert` sees it: exit 1 (it was 0), the status printed.
      let cli = try CLI.run(["health"], socket: path)
      #expect(cli.status == 1 && cli.stdout.hasPrefix("degraded: writes are failing"), "\(cli)")
    } }
  }
}
