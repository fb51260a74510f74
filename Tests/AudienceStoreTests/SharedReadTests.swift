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
    let inTime = answered.wait(timeout: .now() + 10) == .success
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
    // Until the commit waits for the lock (readers arriving now would wait behind it).
    let until = ContinuousClock.now + .seconds(30)
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
}
