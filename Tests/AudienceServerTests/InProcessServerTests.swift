import AudienceClient
import AudienceCore
import AudienceServer
import AudienceWire
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing

/// A store that answers slowly, to exercise deadlines and draining.
struct SlowStore: ProfileStore, Service {
  let kind = "slow"
  let delay: Duration
  /// Ingests begun, so a test can wait until one is in flight.
  let ingests = Counter()
  /// When set, an ingest also waits until it is opened (a test decides when it ends).
  var gate: Gate? = nil

  final class Counter: Sendable {
    private let value = Atomic<Int>(0)
    func increment() { value.add(1, ordering: .relaxed) }
    var count: Int { value.load(ordering: .relaxed) }
  }

  final class Gate: Sendable {
    private let opened = Atomic<Bool>(false)
    func open() { opened.store(true, ordering: .relaxed) }
    var isOpen: Bool { opened.load(ordering: .relaxed) }
  }

  func ingest(_ records: [Record]) async throws -> [IngestOutcome] {
    ingests.increment()
    while let gate, !gate.isOpen { try? await Task.sleep(for: .milliseconds(5)) }
    try? await Task.sleep(for: delay)
    return records.indices.map { .created($0) }
  }
  func user(cookie: String) async throws -> UserView? {
    try? await Task.sleep(for: delay)
    return nil
  }
  func queryCohort(_ query: CohortQuery, categories: InterestCategories) async throws -> CohortPage { CohortPage(total: 0, users: [], nextCursor: nil) }
  func analyze(_ query: AnalyzeQuery, categories: InterestCategories) async throws -> AudienceReport {
    AudienceReport(total: 0)
  }
  func stats() async throws -> StoreStats { StoreStats(profiles: 0, records: 0, repeatedEmails: 0) }
  func run() async throws { try? await gracefulShutdown() }
}

/// Runs `body` against an `AudienceServer` serving `store` in this process (the server, its socket
/// path, their service group), then shuts both down gracefully and checks the socket file is gone.
func withInProcessServer<Store: ProfileStore & Service>(
  _ store: Store, configure: (inout ServerConfiguration) -> Void = { _ in },
  _ body: (AudienceServer, String, ServiceGroup) async throws -> Void
) async throws {
  let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
  let path = "/tmp/aud-ip-" + String(UUID().uuidString.prefix(8)) + ".sock"
  var configuration = ServerConfiguration(socketPath: path)
  configure(&configuration)
  let server = AudienceServer(configuration: configuration, store: store, logger: logger)
  let group = ServiceGroup(services: [store, server], logger: logger)
  try await withThrowingTaskGroup(of: Void.self) { tasks in
    tasks.addTask { try await group.run() }
    await server.waitUntilListening()
    try await body(server, path, group)
    await group.triggerGracefulShutdown()
    try await tasks.waitForAll()
  }
  #expect(!FileManager.default.fileExists(atPath: path))
}

@Suite("In-process server")
struct InProcessServerTests {
  func withServer(
    store: SlowStore, _ body: (AudienceServer, String, ServiceGroup) async throws -> Void
  ) async throws {
    try await withInProcessServer(store, body)
  }

  @Test func deadlineExceededComesBackOnTime() async throws {
    // The store would take a minute; the 50 ms deadline must answer long before that. (The bound
    // is loose on purpose: a loaded test machine can delay any task by a second or two.)
    try await withServer(store: SlowStore(delay: .seconds(60))) { _, path, _ in
      let client = try await AudienceClient.connect(socketPath: path)
      let start = ContinuousClock.now
      await #expect {
        _ = try await client.user(cookie: "x", timeoutMs: 50)
      } throws: { error in
        (error as? WireStatus)?.code == .deadlineExceeded
      }
      #expect(ContinuousClock.now - start < .seconds(30))
      // The connection is still usable.
      #expect(try await client.health().store == "slow")
      await client.close()
    }
  }

  @Test func gracefulShutdownAnswersRequestsInFlight() async throws {
    let store = SlowStore(delay: .milliseconds(300))
    try await withServer(store: store) { _, path, group in
      let client = try await AudienceClient.connect(socketPath: path)
      let pending = Task { try await client.ingest([RawRecord(cookie: "a")]) }
      // Wait until the server is running the ingest (a request not yet read is not in flight).
      while store.ingests.count == 0 { try await Task.sleep(for: .milliseconds(5)) }
      // Shutdown begins while the ingest is in flight; it must still be answered.
      await group.triggerGracefulShutdown()
      let summary = try await pending.value
      #expect(summary.accepted == 1)
      // New connections are no longer accepted.
      try await Task.sleep(for: .milliseconds(50))
      await #expect(throws: WireStatus.self) { _ = try await AudienceClient.connect(socketPath: path) }
      await client.close()
    }
  }

  /// An idle connection closed by the shutdown is told why (id 0, UNAVAILABLE): it was closed
  /// without a frame, and the client's next request met "connection closed" or a broken pipe.
  @Test func anIdleConnectionIsToldTheServerIsShuttingDown() async throws {
    try await withServer(store: SlowStore(delay: .zero)) { _, path, group in
      let client = try await AudienceClient.connect(socketPath: path)
      _ = try await client.health()
      await group.triggerGracefulShutdown()
      var status: WireStatus?
      for _ in 0..<200 where status == nil {
        do {
          _ = try await client.health()
          try await Task.sleep(for: .milliseconds(10))
        } catch let s as WireStatus {
          status = s
        }
      }
      #expect(status?.code == .unavailable)
      #expect(status?.message.contains("the server is shutting down; closing") == true, "\(String(describing: status))")
      await client.close()
    }
  }

  @Test func batchOverTheLimitIsResourceExhausted() async throws {
    try await withServer(store: SlowStore(delay: .zero)) { server, path, _ in
      let client = try await AudienceClient.connect(socketPath: path)
      let n = server.configuration.maxRecordsPerBatch + 1
      await #expect {
        _ = try await client.ingest(Array(repeating: RawRecord(cookie: "a"), count: n))
      } throws: { error in
        guard let s = error as? WireStatus else { return false }
        return s.code == .resourceExhausted && s.message.contains("\(n)")
      }
      await client.close()
    }
  }
}
