import AudienceCore
import Dispatch
import Foundation
import Logging
import Synchronization
import Testing

@testable import AudienceStore

/// A start that restores the shutdown snapshot answers at once and loads the raw records after;
/// what needs them waits for them, and reads that do not need them do not wait.
@Suite("Snapshot records loaded after the start")
struct SnapshotRecordsLoadTests {
  let logger = Logger(label: "test")

  func record(_ cookie: String, _ email: String?, _ minute: Int) -> Record {
    Record(
      cookie: cookie, email: email, createdAt: Timestamp(year: 2025, month: 3, day: 10, hour: 12, minute: minute),
      demographics: Demographics(age: 20 + minute), interests: ["Gaming"])
  }

  @Test func whatNeedsTheRawRecordsWaitsForThem() async throws {
    let dir = TemporaryDirectory()
    defer { dir.remove() }
    let records = [record("a", "x@example.com", 1), record("b", "x@example.com", 2), record("c", nil, 3)]
    var store = try EmbeddedStore(directory: dir.path, logger: logger)
    _ = try await store.ingest(records)
    let cohort = try await store.queryCohort(CohortQuery(cookie: "a", limit: 10), categories: .standard)
    let export = try await store.export(.cookie("a"))
    await store.close()

    let hold = DispatchSemaphore(value: 0)
    store = try EmbeddedStore(directory: dir.path, limits: .default, logger: logger, clock: EmbeddedStore.wallClock, recordsHold: hold)
    #expect(store.restoredFromSnapshot)
    #expect(!store.rawRecordsLoadedNow)
    // Profiles, counts and the index answer before the raw records are there.
    #expect(try await store.user(cookie: "b")?.summary.cookies == ["a", "b"])
    #expect(try await store.queryCohort(CohortQuery(filter: .interests(any: ["Gaming"]), limit: 10), categories: .standard).total == 2)
    #expect(try await store.stats() == StoreStats(profiles: 2, records: 3, repeatedEmails: 1))

    // A repeated record, a cookie's cohort and an export wait, then see every record.
    let answered = Counter()
    let first = records[0]
    let store2 = store
    let again = Task {
      defer { answered.value.add(1, ordering: .relaxed) }
      return try await store2.ingest([first])
    }
    let cohortAfter = Task {
      defer { answered.value.add(1, ordering: .relaxed) }
      return try await store2.queryCohort(CohortQuery(cookie: "a", limit: 10), categories: .standard)
    }
    let exportAfter = Task {
      defer { answered.value.add(1, ordering: .relaxed) }
      return try await store2.export(.cookie("a"))
    }
    try await Task.sleep(for: .milliseconds(200))
    #expect(answered.value.load(ordering: .relaxed) == 0, "answered before the raw records were loaded")
    hold.signal()
    #expect(try await again.value == [.duplicate(0)])
    #expect(try await cohortAfter.value == cohort)
    #expect(try await exportAfter.value == export)
    #expect(store.rawRecordsLoadedNow)
    await store.close()

    // The snapshot saved by that close holds the raw records too.
    store = try EmbeddedStore(directory: dir.path, logger: logger)
    #expect(store.restoredFromSnapshot)
    #expect(try await store.export(.cookie("a")) == export)
    #expect(try await store.ingest([records[2]]) == [.duplicate(1)])
    await store.close()
  }
}

extension SnapshotRecordsLoadTests {
  /// Flips a byte in the middle of the snapshot's first records section (its checksum then fails).
  static func damageRecords(in dir: TemporaryDirectory) throws {
    let path = dir.path + "/" + GraphSnapshotFile.name
    var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    let range = try bytes.withUnsafeBytes { try GraphSnapshot($0, limits: .default).range(of: .records) }
    bytes[range.lowerBound + range.count / 2] ^= 0xFF
    try Data(bytes).write(to: URL(fileURLWithPath: path))
  }

  /// A records section that does not decode (here: its checksum) is not a reason to replay
  /// everything: the rest of the snapshot is restored and the raw records read from the database.
  @Test func damagedRecordsAreReadFromTheDatabase() async throws {
    let dir = TemporaryDirectory()
    defer { dir.remove() }
    var store = try EmbeddedStore(directory: dir.path, logger: logger)
    _ = try await store.ingest([record("a", "x@example.com", 1), record("b", "x@example.com", 2), record("c", nil, 3)])
    let export = try await store.export(.cookie("a"))
    await store.close()

    try Self.damageRecords(in: dir)

    store = try EmbeddedStore(directory: dir.path, logger: logger)
    #expect(store.restoredFromSnapshot)
    #expect(try await store.export(.cookie("a")) == export)
    #expect(try await store.ingest([record("c", nil, 3)]) == [.duplicate(1)])
    await store.close()
  }
}

extension SnapshotRecordsLoadTests {
  /// A person's records are found through their cookies' chains, which a restore builds from the
  /// raw records (decoded from the snapshot, or read from the database when those are damaged):
  /// export, history and forget find every record of a cookie that has several.
  @Test(arguments: [false, true])
  func aRestoredStoreFindsEveryRecordOfAPerson(damaged: Bool) async throws {
    let dir = TemporaryDirectory()
    defer { dir.remove() }
    var store = try EmbeddedStore(directory: dir.path, logger: logger)
    _ = try await store.ingest([
      record("a", "x@example.com", 1), record("b", nil, 2), record("a", nil, 3), record("c", "x@example.com", 4),
      record("b", nil, 5), record("a", "x@example.com", 6),
    ])
    let export = try await store.export(.cookie("a"))
    #expect(export?.records.count == 4)
    let history = try await store.history(.cookie("c"))
    await store.close()
    if damaged {
      try Self.damageRecords(in: dir)
    }

    store = try EmbeddedStore(directory: dir.path, logger: logger)
    #expect(store.restoredFromSnapshot)
    #expect(try await store.export(.cookie("a")) == export)
    #expect(try await store.history(.cookie("c")) == history)
    #expect(try await store.forget(.cookie("b"))?.records == 2)
    #expect(try await store.forget(.email("x@example.com"))?.records == 4)
    #expect(try await store.stats() == StoreStats(profiles: 0, records: 0, repeatedEmails: 0))
    await store.close()
  }
}

private final class Counter: Sendable {
  let value = Atomic<Int>(0)
}
