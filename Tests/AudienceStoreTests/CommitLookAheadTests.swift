import AudienceCore
import Logging
import Synchronization
import Testing

@testable import AudienceStore

/// The leader's look-ahead (IdentityGraph+Prefetch.swift) on the store's path: groups queued
/// together, with duplicates inside a group and across groups, are applied with the hashes the
/// queuing threads took, and every cookie and email is then found by its string, with the
/// outcomes a plain apply gives.
@Suite("Commit look-ahead")
struct CommitLookAheadTests {
  static func record(_ i: Int) -> Record {
    Record(
      cookie: "c\(i % 23)", email: i % 4 == 0 ? nil : "p\(i % 9)@example.com",
      createdAt: Timestamp(seconds: 1_740_000_000 + Int64(i % 50) * 60), interests: i % 2 == 0 ? ["AI"] : [])
  }

  /// One call's groups (a stream's batches, validated apart) are stored end to end and answered
  /// once, with the outcomes of the records joined; empty groups take no place.
  @Test func oneCallsGroupsAreAnsweredTogether() async throws {
    let dir = TemporaryDirectory()
    defer { dir.remove() }
    let store = try EmbeddedStore(directory: dir.path, logger: Logger(label: "test"))
    let groups = [Array(0..<50), [], Array(25..<75), [], Array(0..<100)].map { $0.map(Self.record) }
    let calls = Mutex(0)
    let outcomes = try await withCheckedThrowingContinuation { (c: CheckedContinuation<[IngestOutcome], any Error>) in
      store.queueIngest(groups: groups, contentIDs: groups.map { $0.map(ContentID.init(of:)) }) { result in
        calls.withLock { $0 += 1 }
        c.resume(with: result)
      }
    }
    var plain = IdentityGraph()
    var expected: [IngestOutcome] = []
    for r in groups.joined() {
      expected.append(plain.apply(StoredRecord(seq: plain.lastSeq + 1, contentID: ContentID(of: r), record: r)))
    }
    #expect(outcomes == expected)
    #expect(calls.withLock { $0 } == 1)
    let nothing = try await withCheckedThrowingContinuation { (c: CheckedContinuation<[IngestOutcome], any Error>) in
      store.queueIngest(groups: [[], []], contentIDs: [[], []]) { c.resume(with: $0) }
    }
    #expect(nothing.isEmpty)
    #expect(try await store.stats().records == 100)
    await store.close()
  }

  @Test func groupsQueuedTogetherFindEveryIdentifier() async throws {
    let dir = TemporaryDirectory()
    defer { dir.remove() }
    let store = try EmbeddedStore(directory: dir.path, logger: Logger(label: "test"))
    // Records 0..<50 and again 25..<75 and 0..<100: repeats within and across groups.
    let groups = [Array(0..<50), Array(25..<75) + Array(25..<30), Array(0..<100)].map { $0.map(Self.record) }
    let results = Mutex<[Int: [IngestOutcome]]>([:])
    await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
      let left = Mutex(groups.count)
      for (g, records) in groups.enumerated() {
        store.queueIngest(records, contentIDs: records.map(ContentID.init(of:))) { result in
          results.withLock { $0[g] = (try? result.get()) ?? [] }
          if left.withLock({ $0 -= 1; return $0 }) == 0 { done.resume() }
        }
      }
    }
    var plain = IdentityGraph()
    var expected: [IngestOutcome] = []
    for r in groups.joined() {
      expected.append(plain.apply(StoredRecord(seq: plain.lastSeq + 1, contentID: ContentID(of: r), record: r)))
    }
    #expect(results.withLock { r in (0..<groups.count).flatMap { r[$0] ?? [] } } == expected)
    let graph = store.graph.withLock { $0 }
    for r in groups.joined() {
      #expect(graph.profileID(of: .cookie(r.cookie)) == plain.profileID(of: .cookie(r.cookie)))
      #expect(graph.profileID(of: .cookie(r.cookie)) != nil)
      if let e = r.email { #expect(graph.profileID(of: .email(e)) == plain.profileID(of: .email(e))) }
    }
    await store.close()
  }
}
