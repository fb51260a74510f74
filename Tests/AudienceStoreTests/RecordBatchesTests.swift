import AudienceCore
import Foundation
import Logging
import Synchronization
import Testing

@testable import AudienceStore

/// The records' table as schema version 2 stores them (`record_batches`, `users` a view), and a
/// database of version 1 (a `users` table, a row per record) moved into it when opened.
@Suite("Record batches")
struct RecordBatchesTests {
  let logger = Logger(label: "test")

  static func records(_ n: Int) -> [Record] {
    (0..<n).map { i in
      Record(
        cookie: "c\(i % 40)", email: i % 3 == 0 ? "p\(i % 40 / 2)@example.com" : nil, phoneNumber: i % 5 == 0 ? "555-\(i)" : nil,
        createdAt: Timestamp(seconds: 1_740_000_000 + Int64(i) * 60),
        location: Location(state: i % 2 == 0 ? "CA" : nil, country: "USA", city: i % 9 == 0 ? "Zürich \"old\"\\\n" : "City \(i % 13)"),
        demographics: Demographics(age: i % 4 == 0 ? nil : 18 + i % 60, gender: "F", income: i % 6 == 0 ? nil : "\(i)000", education: nil),
        interests: i % 3 == 0 ? [] : ["AI", "Tab\there"])
    }
  }

  /// Writes `records` as schema version 1 did: a `users` row each, seq 1..., no snapshot.
  static func writeVersion1(_ records: [Record], to path: String) throws {
    let db = try SQLiteDatabase(path: path)
    defer { db.close() }
    try db.execute(
      """
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      INSERT INTO meta VALUES ('schema_version', '1');
      CREATE TABLE users (
        seq INTEGER PRIMARY KEY, content_id BLOB NOT NULL, cookie TEXT NOT NULL, email TEXT, phone_number TEXT,
        created_at TEXT NOT NULL, state TEXT, country TEXT, city TEXT, age INTEGER, gender TEXT, income TEXT,
        education TEXT, interests TEXT NOT NULL);
      CREATE TABLE splits (cookie TEXT PRIMARY KEY, after_seq INTEGER NOT NULL);
      """)
    let insert = try db.prepare(
      """
      INSERT INTO users (seq, content_id, cookie, email, phone_number, created_at, state, country, city, age, gender,
        income, education, interests) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      """)
    for (i, r) in records.enumerated() {
      let id = ContentID(of: r)
      var idBytes: [UInt8] = []
      withUnsafeBytes(of: (id.high.bigEndian, id.low.bigEndian)) { idBytes = Array($0) }
      insert.bind(1, Int64(i + 1))
      insert.bind(2, bytes: idBytes)
      insert.bind(3, r.cookie)
      insert.bind(4, r.email)
      insert.bind(5, r.phoneNumber)
      insert.bind(6, r.createdAt!.iso8601)
      insert.bind(7, r.location.state)
      insert.bind(8, r.location.country)
      insert.bind(9, r.location.city)
      insert.bind(10, r.demographics.age.map(Int64.init))
      insert.bind(11, r.demographics.gender)
      insert.bind(12, r.demographics.income)
      insert.bind(13, r.demographics.education)
      insert.bind(14, StringListCoding.encode(r.interests))
      _ = try insert.step()
      insert.reset()
    }
  }

  static func people(_ store: EmbeddedStore) async throws -> [PersonExport?] {
    var out: [PersonExport?] = []
    for c in 0..<40 { out.append(try await store.export(.cookie("c\(c)"))) }
    return out
  }

  /// A version 1 database opens as version 2: the same records (so the same people), `users`
  /// a view with a row each, and sending them again stores nothing.
  @Test func aVersion1DatabaseIsMovedIntoBatches() async throws {
    LegacyUsersTable.recordsPerBatch = 500  // no other test moves a database
    let records = Self.records(LegacyUsersTable.recordsPerBatch + 300)
    let old = TemporaryDirectory()
    let fresh = TemporaryDirectory()
    defer {
      old.remove()
      fresh.remove()
    }
    try Self.writeVersion1(records, to: old.path + "/audience.db")
    var store = try EmbeddedStore(directory: old.path, logger: logger)
    let reference = try EmbeddedStore(directory: fresh.path, logger: logger)
    _ = try await reference.ingest(records)
    #expect(try await Self.people(store) == Self.people(reference))
    #expect(try await store.ingest(records).allSatisfy { if case .duplicate = $0 { true } else { false } })
    await reference.close()
    await store.close()

    let db = try SQLiteDatabase(path: old.path + "/audience.db")
    let q = try db.prepare(
      """
      SELECT (SELECT type FROM sqlite_master WHERE name = 'users'), (SELECT value FROM meta WHERE key = 'schema_version'),
        (SELECT count(*) FROM record_batches), (SELECT count(*) FROM users), (SELECT max(seq) FROM users)
      """)
    #expect(try q.step())
    #expect(q.text(0) == "view" && q.text(1) == "2")
    #expect(q.int64(2) == 2 && q.int64(3) == Int64(records.count) && q.int64(4) == Int64(records.count))
    q.reset()
    db.close()

    // Opened again: nothing left to move, the same people.
    try FileManager.default.removeItem(atPath: old.path + "/" + GraphSnapshotFile.name)
    store = try EmbeddedStore(directory: old.path, logger: logger)
    #expect(!store.restoredFromSnapshot)
    #expect(try await store.stats().records == records.count)
    await store.close()
  }

  /// A commit whose JSON passes `rowBytes` goes into several rows, each ending at the record
  /// that passed it, and reads back whole.
  @Test func aLargeCommitIsStoredInRowsOfBoundedBytes() async throws {
    let dir = TemporaryDirectory()
    defer { dir.remove() }
    let big = String(repeating: "x", count: 8 << 10)
    let rowBytes = 256 << 10
    let n = rowBytes / big.utf8.count * 2 + 10
    let records = (0..<n).map { i in
      Record(cookie: "big\(i)", createdAt: Timestamp(seconds: 1_750_000_000 + Int64(i)), location: Location(city: big + "\(i)"))
    }
    var store = try EmbeddedStore(directory: dir.path, logger: logger)
    store.rowBytes = rowBytes
    _ = try await store.ingest(records)
    await store.close()
    let db = try SQLiteDatabase(path: dir.path + "/audience.db")
    let q = try db.prepare("SELECT count(*), sum(count), max(length(records)) FROM record_batches")
    #expect(try q.step())
    #expect(q.int64(0) == 3)
    #expect(q.int64(1) == Int64(n))
    #expect((q.int64(2) ?? .max) < Int64(rowBytes + (9 << 10)))
    q.reset()
    db.close()
    try FileManager.default.removeItem(atPath: dir.path + "/" + GraphSnapshotFile.name)
    store = try EmbeddedStore(directory: dir.path, logger: logger)
    #expect(try await store.stats().records == n)
    #expect(try await store.export(.cookie("big\(n - 1)"))?.records.first?.location.city == big + "\(n - 1)")
    await store.close()
  }

  /// An erasure while a reader holds the log (an analyst's `sqlite3` in a transaction) still
  /// erases and answers; the log cannot be emptied then, which the store records, and the next
  /// erasure, once the reader is gone, empties it.
  @Test func anErasureWhileAReaderHoldsTheLog() async throws {
    let dir = TemporaryDirectory()
    defer { dir.remove() }
    let store = try EmbeddedStore(directory: dir.path, logger: logger)
    _ = try await store.ingest(Self.records(100))
    let reader = try Self.readerHoldingTheLog(dir)
    #expect(try await store.forget(.cookie("c7")) != nil)
    let owedWithReader = store.erasureCheckpointOwed.load(ordering: .relaxed)
    #expect(owedWithReader)
    #expect(try await store.user(cookie: "c7") == nil)
    try reader.execute("COMMIT")
    reader.close()
    #expect(try await store.forget(.cookie("c8")) != nil)
    let owedAfter = store.erasureCheckpointOwed.load(ordering: .relaxed)
    #expect(!owedAfter)
    let wal = try FileManager.default.attributesOfItem(atPath: dir.path + "/audience.db-wal")[.size] as? Int
    #expect(wal == 0)
    await store.close()
  }

  /// An analyst's `sqlite3` inside a transaction on the live file: it holds the log.
  static func readerHoldingTheLog(_ dir: TemporaryDirectory) throws -> SQLiteDatabase {
    let reader = try SQLiteDatabase(path: dir.path + "/audience.db")
    try reader.execute("BEGIN")
    let read = try reader.prepare("SELECT count(*) FROM record_batches")
    #expect(try read.step())
    read.reset()
    return reader
  }

  /// The log an erasure could not empty (a reader held it) is emptied once the reader is gone,
  /// with no other erasure or write: the leader tries again every `checkpointRetryAfter`.
  @Test func theLogAnErasureLeftIsEmptiedOnceTheReaderGoes() async throws {
    let dir = TemporaryDirectory()
    defer { dir.remove() }
    let store = try EmbeddedStore(directory: dir.path, logger: logger)
    store.checkpointRetryAfter = .milliseconds(100)
    func owed() -> Bool { store.erasureCheckpointOwed.load(ordering: .relaxed) }
    _ = try await store.ingest(Self.records(100))
    let reader = try Self.readerHoldingTheLog(dir)
    #expect(try await store.forget(.cookie("c7")) != nil)
    #expect(owed())
    // Retries while the reader stays fail and leave it owed.
    try await Task.sleep(for: .milliseconds(500))
    #expect(owed())
    try reader.execute("COMMIT")
    reader.close()
    var waited = 0
    while owed(), waited < 100 {
      try await Task.sleep(for: .milliseconds(50))
      waited += 1
    }
    #expect(!owed())
    let wal = try FileManager.default.attributesOfItem(atPath: dir.path + "/audience.db-wal")[.size] as? Int
    #expect(wal == 0)
    await store.close()
  }

  /// A new database has 16 KiB pages (fewer WAL frames per commit row); one made with another
  /// page size keeps it.
  @Test func aNewDatabaseHasSixteenKiBPagesAndAnOldOneKeepsItsOwn() async throws {
    func pageSize(_ dir: TemporaryDirectory) throws -> Int64? {
      let db = try SQLiteDatabase(path: dir.path + "/audience.db")
      defer { db.close() }
      let q = try db.prepare("PRAGMA page_size")
      defer { q.reset() }
      return try q.step() ? q.int64(0) : nil
    }
    let fresh = TemporaryDirectory()
    defer { fresh.remove() }
    var store = try EmbeddedStore(directory: fresh.path, logger: logger)
    _ = try await store.ingest(Self.records(10))
    await store.close()
    #expect(try pageSize(fresh) == 16384)
    let old = TemporaryDirectory()
    defer { old.remove() }
    let made = try SQLiteDatabase(path: old.path + "/audience.db")
    try made.execute("PRAGMA page_size=4096; PRAGMA journal_mode=WAL; CREATE TABLE t(x)")
    made.close()
    store = try EmbeddedStore(directory: old.path, logger: logger)
    _ = try await store.ingest(Self.records(10))
    #expect(try await store.stats().records == 10)
    await store.close()
    #expect(try pageSize(old) == 4096)
  }

  /// A database a newer build wrote is refused with a reason, not misread.
  @Test func aNewerSchemaIsRefused() async throws {
    let dir = TemporaryDirectory()
    defer { dir.remove() }
    let store = try EmbeddedStore(directory: dir.path, logger: logger)
    await store.close()
    let db = try SQLiteDatabase(path: dir.path + "/audience.db")
    try db.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    db.close()
    #expect {
      _ = try EmbeddedStore(directory: dir.path, logger: logger)
    } throws: { error in
      "\(error)".contains("newer audienced (schema version 3")
    }
  }

  /// A forget takes the person's records out of their rows and leaves the others; a row left
  /// empty goes.
  @Test func aForgetRewritesOnlyItsRecords() async throws {
    let dir = TemporaryDirectory()
    defer { dir.remove() }
    let records = Self.records(200)
    let store = try EmbeddedStore(directory: dir.path, logger: logger)
    store.recordsPerRow = 16
    _ = try await store.ingest(Array(records[..<100]))
    _ = try await store.ingest([Record(cookie: "alone", createdAt: Timestamp(seconds: 1_750_000_000))])
    _ = try await store.ingest(Array(records[100...]))
    let gone = try #require(try await store.forget(.cookie("c7")))
    #expect(try await store.forget(.cookie("alone")) != nil)
    let kept = try await Self.people(store)
    await store.close()

    let db = try SQLiteDatabase(path: dir.path + "/audience.db")
    let q = try db.prepare(
      "SELECT count(*), (SELECT sum(count) FROM record_batches), (SELECT count(*) FROM users WHERE cookie IN ('c7', 'alone')) FROM users")
    #expect(try q.step())
    let left = records.count - gone.records
    #expect(gone.records > 0 && left > 100)
    #expect(q.int64(0) == Int64(left))
    #expect(q.int64(1) == Int64(left))
    #expect(q.int64(2) == 0)
    q.reset()
    let empty = try db.prepare("SELECT count(*) FROM record_batches WHERE first_seq = 101")
    #expect(try empty.step() && empty.int64(0) == 0)
    empty.reset()
    db.close()

    try FileManager.default.removeItem(atPath: dir.path + "/" + GraphSnapshotFile.name)
    let replayed = try EmbeddedStore(directory: dir.path, logger: logger)
    #expect(try await Self.people(replayed) == kept)
    await replayed.close()
  }

  /// What `RecordBatchRows` writes reads back as it was, by the byte reader when it has no
  /// escape and by the JSON parser always: random text (quotes, backslashes, control
  /// characters, other scripts, empty), absent fields, ages, times with and without.
  @Test func rowsReadBackByBothReaders() throws {
    var rng = SplitMix64(seed: 11)
    let alphabet: [String] = ["a", "Z", "7", " ", "\"", "\\", "\n", "\u{1}", "\u{1F}", "\t", "\r", "\u{7F}", "é", "日", "😀", "/", "[", "]", ",", "null"]
    func text() -> String { (0..<Int(rng.next() % 6)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }.joined() }
    func maybe() -> String? { rng.next() % 4 == 0 ? nil : text() }
    var byteReader = 0
    for round in 0..<200 {
      let n = Int(rng.next() % 5)
      let plain = round % 2 == 0  // half the batches without characters that need an escape
      func field() -> String? { plain ? (rng.next() % 4 == 0 ? nil : "v\(rng.next() % 100) é") : maybe() }
      var records = (0..<n).map { _ in
        Record(
          cookie: plain ? "c\(rng.next() % 9)" : text(), email: field(), phoneNumber: field(),
          createdAt: rng.next() % 3 == 0 ? nil : Timestamp(seconds: Int64(rng.next() % 4_000_000_000)),
          location: Location(state: field(), country: field(), city: field()),
          demographics: Demographics(
            age: rng.next() % 3 == 0 ? nil : Int(rng.next() % 200), gender: field(), income: field(), education: field()),
          interests: (0..<Int(rng.next() % 4)).map { _ in plain ? "i\(rng.next() % 5)" : text() })
      }
      let ids = records.map(ContentID.init(of:))
      let expected = records
      let rows = RecordBatchRows(&records, contentIDs: ids)
      let assigned = Timestamp(seconds: 1_760_000_000)
      var time: [UInt8] = []
      assigned.appendISO8601(to: &time)
      var text: [UInt8] = [0x5B]
      for i in 0..<n {
        if i > 0 { text.append(0x2C) }
        rows.append(i, seq: UInt64(round * 10 + i + 1), assignedTime: time, to: &text)
      }
      text.append(0x5D)
      let want = expected.enumerated().map { i, r in
        var r = r
        if r.createdAt == nil { r.createdAt = assigned }
        return StoredRecord(seq: UInt64(round * 10 + i + 1), contentID: ids[i], record: r)
      }
      #expect(try RecordBatches.decodeJSON(text) == want)
      #expect(try RecordBatches.decode(text) == want)
      if let read = text.withUnsafeBufferPointer(RecordBatchReader.read) {
        #expect(read == want)
        byteReader += 1
      }
    }
    #expect(byteReader >= 100)
  }
}
