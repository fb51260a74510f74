import AudienceCore
import Dispatch
import Foundation
import Logging
import Synchronization
import Testing

@testable import AudienceStore

/// Reads share the graph's lock: a long read (a wide filter at a million profiles) held up every
/// other request, lookups, health and ingest acknowledgements included, for the sum of the reads
/// queued before them.
@Suite("Shared reads")
struct SharedReadTests {
  /// Runs `read` on a thread of its own that stays inside the shared lock until `release`.
  static func holdARead(_ store: EmbeddedStore, release: DispatchSemaphore) {
    let inside = DispatchSemaphore(value: 0)
    Thread { try? store.readLiveGraph(settling: false) { _ in inside.signal(); release.wait() } }.start()
    inside.wait()
  }

  @Test func aReadIsAnsweredWhileAnotherIsUnderWay() async throws {
    let dir = TemporaryDirectory()
    let store = try EmbeddedStore(directory: dir.path, logger: Logger(label: "test"))
    _ = try await store.ingest([Record(cookie: "a")])
    let release = DispatchSemaphore(value: 0)
    Self.holdARead(store, release: release)
    let answered = DispatchSemaphore(value: 0)
    Thread {
      _ = try? store.userNow(cookie: "a")
      _ = try? store.queryCohortNow(CohortQuery(), categories: .standard)
      answered.signal()
    }.start()
    let inTime = answered.wait(timeout: .now() + 60) == .success
    release.signal()
    #expect(inTime, "a lookup waited for a read under way")
    if !inTime { answered.wait() }
    await store.close()
  }

  /// Writers first: a read that comes while a write waits for the reads under way goes after the
  /// write (a stream of reads cannot hold off a bulk load), and so sees it.
  @Test func aWriteWaitingGoesBeforeLaterReads() async throws {
    let dir = TemporaryDirectory()
    let store = try EmbeddedStore(directory: dir.path, logger: Logger(label: "test"))
    let release = DispatchSemaphore(value: 0)
    Self.holdARead(store, release: release)
    let write = Task { try await store.ingest([Record(cookie: "b")]) }
    // Until the commit waits for the lock (readers arriving now would wait behind it). Its
    // leader runs on the shared thread pool, which other suites running at once can keep busy
    // for tens of seconds on two cores: the wait is long, and only a lock that lets readers pass
    // a waiting writer uses it all.
    let until = ContinuousClock.now + .seconds(300)
    while !store.graph.readersWait && ContinuousClock.now < until { try await Task.sleep(for: .milliseconds(5)) }
    #expect(store.graph.readersWait, "the commit never waited for the lock")
    let seen = Mutex<Int?>(nil)
    let later = DispatchSemaphore(value: 0)
    Thread {
      seen.withLock { $0 = try? store.statsNow().records }
      later.signal()
    }.start()
    try await Task.sleep(for: .milliseconds(200))
    release.signal()
    _ = try await write.value
    later.wait()
    #expect(seen.withLock { $0 } == 1)
    await store.close()
  }

  /// Reads of every kind on four threads while ingests (large enough to hand the index to its
  /// thread), forgets and splits go on; then, quiet, the reads agree with each other. Run under
  /// `swift test --sanitize=thread` it shows races between shared readers and writers.
  @Test func readsAndWritesAtOnce() async throws {
    let dir = TemporaryDirectory()
    let store = try EmbeddedStore(directory: dir.path, logger: Logger(label: "test"))
    func record(_ i: Int) -> Record {
      Record(
        cookie: "c\(i)", email: "e\(i % 700)@x.com", createdAt: Timestamp(seconds: Int64(1_700_000_000 + i)),
        location: Location(country: ["USA", "India", "France"][i % 3], city: i % 5 == 0 ? nil : "City\(i % 9)"),
        demographics: Demographics(age: 18 + i % 60, income: "\(20_000 + i % 90 * 1_000)"), interests: ["Tech", "Gaming", "Golf"].suffix(i % 3 + 1))
    }
    _ = try await store.ingest((0..<600).map(record))
    let stop = Atomic<Bool>(false)
    let reads = Atomic<Int>(0)
    let failures = Mutex<[String]>([])
    let done = DispatchSemaphore(value: 0)
    for t in 0..<4 {
      Thread {
        var i = t
        while !stop.load(ordering: .relaxed) {
          i += 1
          do {
            _ = try store.userNow(cookie: "c\(i % 3000)")
            _ = try store.statsNow()
            let page = try store.queryCohortNow(CohortQuery(filter: .field(.country, ["USA"]), limit: 5), categories: .standard)
            if page.users.count > page.total { failures.withLock { $0.append("page of \(page.users.count) > total \(page.total)") } }
            _ = try store.queryStampsNow(CohortQuery(limit: 3), categories: .standard)
            _ = try store.stampedViewsNow([i % 50])
          } catch {
            failures.withLock { $0.append("\(error)") }
          }
          reads.add(1, ordering: .relaxed)
          // Not a spin: the full test run is parallel on two cores, and other suites time things.
          usleep(2_000)
        }
        done.signal()
      }.start()
    }
    for round in 1...6 {
      _ = try await store.ingest((round * 600..<round * 600 + 600).map(record))
      _ = try await store.analyze(AnalyzeQuery(k: 2), categories: .standard)
      _ = try await store.export(.cookie("c\(round)"))
      _ = try await store.history(.cookie("c\(round + 10)"))
      _ = try await store.forget(.cookie("c\(round * 7)"))
      _ = try await store.split(cookie: "c\(round * 11)")
    }
    stop.store(true, ordering: .relaxed)
    for _ in 0..<4 { done.wait() }
    #expect(failures.withLock { $0 } == [])
    #expect(reads.load(ordering: .relaxed) > 0)
    // Quiet: the count, a full page and the analysis agree.
    let count = try store.queryCohortNow(CohortQuery(countOnly: true), categories: .standard).total
    let all = try store.queryCohortNow(CohortQuery(limit: 10_000), categories: .standard)
    let report = try await store.analyze(AnalyzeQuery(k: 2), categories: .standard)
    let profiles = try store.statsNow().profiles
    #expect(all.users.count == count && report.total == count && profiles == count)
    await store.close()
  }
}
