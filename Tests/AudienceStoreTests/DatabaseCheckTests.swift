import AudienceCore
import Foundation
import Logging
import Testing

@testable import AudienceStore

/// The check of the database after a restore from the shutdown snapshot, which reads only the
/// tables' counts: a damaged database was served on without a word.
@Suite("Database check")
struct DatabaseCheckTests {
  @Test func aBrokenOverflowChainIsFound() throws {
    let dir = TemporaryDirectory()
    let path = dir.path + "/check.db"
    do {
      let db = try SQLiteDatabase(path: path)
      defer { db.close() }
      // A row of 100 KB: its overflow pages are pages 3 and on (page size 4096).
      try db.execute("CREATE TABLE t (v TEXT); INSERT INTO t VALUES (printf('%.*c', 100000, 'x'));")
      #expect(EmbeddedStore.quickCheck(db) == nil)
    }
    // The next-page pointer of an overflow page in the middle of the chain, pointing nowhere.
    let file = try FileHandle(forUpdating: URL(fileURLWithPath: path))
    try file.seek(toOffset: UInt64(9 * 4096))
    try file.write(contentsOf: Data([0x7F, 0xFF, 0xFF, 0xFF]))
    try file.close()
    let db = try SQLiteDatabase(path: path)
    defer { db.close() }
    // The row's count still reads: a restore would not have noticed.
    let count = try db.prepare("SELECT count(*) FROM t")
    #expect(try count.step() && count.text(0) == "1")
    count.reset()
    let found = try #require(EmbeddedStore.quickCheck(db))
    #expect(found.contains("invalid page number") || found.contains("overflow"), "\(found)")
  }

  /// A row that is not the records' JSON was INTERNAL ("a bug: please report it"), naming no row.
  @Test func aRowThatCannotBeReadIsNamed() async throws {
    let dir = TemporaryDirectory()
    let store = try EmbeddedStore(directory: dir.path, logger: Logger(label: "test"))
    await store.close()
    do {
      let db = try SQLiteDatabase(path: dir.path + "/audience.db")
      defer { db.close() }
      try db.execute("INSERT INTO record_batches (first_seq, last_seq, count, records) VALUES (5, 5, 1, '[[5, oops')")
    }
    do {
      _ = try EmbeddedStore(directory: dir.path, logger: Logger(label: "test"))
      Issue.record("opened")
    } catch let error as AudienceError {
      #expect(error.code == .unavailable)
      #expect(error.message.contains("the record_batches row first_seq=5 cannot be read"), "\(error.message)")
    }
  }
}
