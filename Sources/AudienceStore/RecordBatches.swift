import AudienceCore

/// The `record_batches` table of the embedded database: every accepted raw record, as JSON, one
/// row per commit. The view `users` shows them one row each, in the original specification's
/// field names, for `sqlite3` and pandas. Profiles and cohorts are derived from them.
///
/// A row's `records` is a JSON array of records in `seq` order, each an array:
/// `[seq, "created_at", "content id (32 hex digits)", "cookie", email, phone_number, state,
/// country, city, age, gender, income, education, ["interest", ...]]` (absent fields `null`).
/// One row per commit rather than per record: inserting a row costs SQLite about as much as a
/// record costs the rest of the server (docs/BENCHMARKS.md).
enum RecordBatches {
  /// 1: a `users` table, a row per record. 2: `record_batches`, and `users` a view over it.
  static let schemaVersion = 2

  /// `first_seq` and `last_seq` bound the row's records (an erasure leaves them as they were);
  /// `count` is how many it holds.
  static let schema = """
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS record_batches (
      first_seq INTEGER PRIMARY KEY,
      last_seq INTEGER NOT NULL,
      count INTEGER NOT NULL,
      records TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS splits (cookie TEXT PRIMARY KEY, after_seq INTEGER NOT NULL);
    """

  /// Every change to `record_batches`, by the server or anyone else (a `sqlite3` session), counts
  /// in `meta.record_changes`: a shutdown snapshot notes the count it was saved at, and is not
  /// used once the records changed since (the records stay the truth), even where the row and
  /// record counts are unchanged (an edited email).
  static let changeCounter = ["INSERT", "UPDATE", "DELETE"].map { event in
    """
    CREATE TRIGGER IF NOT EXISTS record_batches_\(event.lowercased())_counted AFTER \(event) ON record_batches BEGIN
      INSERT INTO meta(key, value) VALUES ('record_changes', '1')
        ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1;
    END;
    """
  }.joined(separator: "\n")

  /// The `meta` key of the change count a snapshot was saved at.
  static let snapshotChangesKey = "snapshot_record_changes"

  /// One row per record, in the version-1 table's column names (`content_id` as hex text).
  static let view = """
    CREATE VIEW IF NOT EXISTS users AS SELECT
      json_extract(r.value, '$[0]') AS seq, json_extract(r.value, '$[2]') AS content_id,
      json_extract(r.value, '$[3]') AS cookie, json_extract(r.value, '$[4]') AS email,
      json_extract(r.value, '$[5]') AS phone_number, json_extract(r.value, '$[1]') AS created_at,
      json_extract(r.value, '$[6]') AS state, json_extract(r.value, '$[7]') AS country,
      json_extract(r.value, '$[8]') AS city, json_extract(r.value, '$[9]') AS age,
      json_extract(r.value, '$[10]') AS gender, json_extract(r.value, '$[11]') AS income,
      json_extract(r.value, '$[12]') AS education, json_extract(r.value, '$[13]') AS interests
    FROM record_batches AS b, json_each(b.records) AS r;
    """

  static let insertSQL = "INSERT INTO record_batches (first_seq, last_seq, count, records) VALUES (?, ?, ?, ?)"

  static let selectAllSQL = "SELECT records, first_seq FROM record_batches ORDER BY first_seq"

  /// Inserts a row.
  /// - Parameters:
  ///   - text: its `records`, bound in place (SQLite does not copy them) until the step.
  static func insert(_ text: [UInt8], first: UInt64, last: UInt64, count: Int, using insert: SQLiteStatement) throws(AudienceError) {
    insert.bind(1, Int64(bitPattern: first))
    insert.bind(2, Int64(bitPattern: last))
    insert.bind(3, Int64(count))
    try text.withUnsafeBufferPointer { b throws(AudienceError) in
      defer { insert.reset() }
      try insert.bindStatic(4, b)
      _ = try insert.step()
    }
  }

  /// Calls `body` with every stored record, in `seq` order.
  static func forEach(in db: SQLiteDatabase, _ body: (consuming StoredRecord) throws(AudienceError) -> Void) throws(AudienceError) {
    let select = try db.prepare(selectAllSQL)
    while try select.step() {
      let records: [StoredRecord]
      do { records = try decode(select.bytes(0)) } catch {
        // Which row, and that it is the data, not the server (INTERNAL said "a bug").
        throw AudienceError(
          .unavailable,
          "\(db.path): the record_batches row first_seq=\(select.int64(1) ?? -1) cannot be read: \(error.message) "
            + "(the database was edited or is damaged: restore it from a backup, docs/OPERATIONS.md)")
      }
      for stored in records { try body(stored) }
    }
  }

  /// The records of one row's `records`: read straight from the bytes when they are as
  /// `RecordBatchRows` writes them, else parsed as JSON (a string with an escape, a row
  /// `sqlite3` wrote).
  static func decode(_ text: [UInt8]) throws(AudienceError) -> [StoredRecord] {
    if let records = text.withUnsafeBufferPointer(RecordBatchReader.read) { return records }
    return try decodeJSON(text)
  }

  static func decodeJSON(_ text: [UInt8]) throws(AudienceError) -> [StoredRecord] {
    let value: JSONValue
    do { value = try JSONValue(parsingUTF8: text) } catch {
      throw AudienceError(.internal, "record_batches: a row is not JSON (\(error))")
    }
    guard case .array(let items) = value else { throw AudienceError(.internal, "record_batches: a row is not a JSON array") }
    var out: [StoredRecord] = []
    out.reserveCapacity(items.count)
    for item in items { out.append(try record(item)) }
    return out
  }

  private static func record(_ item: JSONValue) throws(AudienceError) -> StoredRecord {
    guard case .array(let f) = item, f.count == 14, case .int(let seqValue) = f[0] else {
      throw AudienceError(.internal, "record_batches: a record is not an array of 14 fields starting with its seq")
    }
    let seq = UInt64(bitPattern: seqValue)
    func corrupt(_ what: String) -> AudienceError {
      AudienceError(.internal, "record_batches: record seq=\(seq): \(what) is not readable")
    }
    func text(_ i: Int, _ what: String) throws(AudienceError) -> String? {
      switch f[i] {
      case .null: return nil
      case .string(let s): return s
      default: throw corrupt(what)
      }
    }
    guard case .string(let created) = f[1], let createdAt = Timestamp(parsing: created) else { throw corrupt("created_at") }
    guard case .string(let hex) = f[2], let contentID = ContentID(hex: hex) else { throw corrupt("content_id") }
    guard case .string(let cookie) = f[3] else { throw corrupt("cookie") }
    let age: Int?
    switch f[9] {
    case .null: age = nil
    case .int(let n): age = Int(n)
    default: throw corrupt("age")
    }
    guard case .array(let list) = f[13] else { throw corrupt("interests") }
    var interests: [String] = []
    interests.reserveCapacity(list.count)
    for v in list {
      guard case .string(let s) = v else { throw corrupt("interests") }
      interests.append(s)
    }
    let record = Record(
      cookie: cookie, email: try text(4, "email"), phoneNumber: try text(5, "phone_number"), createdAt: createdAt,
      location: Location(state: try text(6, "state"), country: try text(7, "country"), city: try text(8, "city")),
      demographics: Demographics(
        age: age, gender: try text(10, "gender"), income: try text(11, "income"), education: try text(12, "education")),
      interests: interests)
    return StoredRecord(seq: seq, contentID: contentID, record: record)
  }

  /// `records` as a row's JSON, in their order (each keeps its seq and time).
  static func encode(_ records: [StoredRecord]) -> [UInt8] {
    var plain = records.map(\.record)
    let rows = RecordBatchRows(&plain, contentIDs: records.map(\.contentID))
    var text: [UInt8] = [0x5B]  // [
    for (i, stored) in records.enumerated() {
      if i > 0 { text.append(0x2C) }  // ,
      rows.append(i, seq: stored.seq, assignedTime: [], to: &text)
    }
    text.append(0x5D)  // ]
    return text
  }

  /// Erases the records `seqs` (a forget): each row holding some of them is read once, and
  /// written again without them (with `secure_delete`, over the old bytes), or deleted when
  /// none is left. A seq no row holds is skipped.
  static func erase(_ seqs: [UInt64], in db: SQLiteDatabase) throws(AudienceError) {
    let rowOf = try db.prepare("SELECT max(first_seq) FROM record_batches WHERE first_seq <= ?")
    var byRow: [Int64: Set<UInt64>] = [:]
    for seq in seqs {
      rowOf.reset()
      rowOf.bind(1, Int64(bitPattern: seq))
      guard try rowOf.step(), let row = rowOf.int64(0) else { continue }
      byRow[row, default: []].insert(seq)
    }
    rowOf.reset()
    let read = try db.prepare("SELECT records FROM record_batches WHERE first_seq = ?")
    let update = try db.prepare("UPDATE record_batches SET records = ?, count = ? WHERE first_seq = ?")
    let delete = try db.prepare("DELETE FROM record_batches WHERE first_seq = ?")
    for (row, gone) in byRow.sorted(by: { $0.key < $1.key }) {
      read.reset()
      read.bind(1, row)
      guard try read.step() else { continue }
      let stored = try decode(read.bytes(0))
      read.reset()
      let kept = stored.filter { !gone.contains($0.seq) }
      guard kept.count < stored.count else { continue }
      if kept.isEmpty {
        delete.reset()
        delete.bind(1, row)
        _ = try delete.step()
        continue
      }
      let text = encode(kept)
      try text.withUnsafeBufferPointer { b throws(AudienceError) in
        defer { update.reset() }
        try update.bindStatic(1, b)
        update.bind(2, Int64(kept.count))
        update.bind(3, row)
        _ = try update.step()
      }
    }
  }
}
