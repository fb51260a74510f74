import AudienceCore

/// The `users` table of schema version 1: a row per record. A database made then is moved into
/// `record_batches` when it is opened (`migrate`), in one transaction, and `users` becomes the
/// view over them.
enum LegacyUsersTable {
  static let selectAllSQL = """
    SELECT seq, content_id, cookie, email, phone_number, created_at, state, country, city,
      age, gender, income, education, interests FROM users ORDER BY seq
    """

  /// Records moved per `record_batches` row (a test makes it small).
  nonisolated(unsafe) static var recordsPerBatch = 8192

  /// Whether `users` is still a table (rather than the view).
  static func present(in db: SQLiteDatabase) throws(AudienceError) -> Bool {
    let q = try db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'users' AND type = 'table'")
    return try q.step()
  }

  /// Moves every row of the `users` table into `record_batches`, in `seq` order, and drops the
  /// table (the caller's transaction makes it all or nothing).
  static func migrate(_ db: SQLiteDatabase) throws(AudienceError) {
    let select = try db.prepare(selectAllSQL)
    let insert = try db.prepare(RecordBatches.insertSQL)
    var batch: [StoredRecord] = []
    func flush() throws(AudienceError) {
      guard let first = batch.first?.seq, let last = batch.last?.seq else { return }
      try RecordBatches.insert(RecordBatches.encode(batch), first: first, last: last, count: batch.count, using: insert)
      batch.removeAll(keepingCapacity: true)
    }
    while try select.step() {
      batch.append(try read(select))
      if batch.count == recordsPerBatch { try flush() }
    }
    try flush()
    select.reset()
    try db.execute("DROP TABLE users")
  }

  /// Reads the current row of `selectAllSQL`.
  static func read(_ stmt: SQLiteStatement) throws(AudienceError) -> StoredRecord {
    let seq = UInt64(bitPattern: stmt.int64(0) ?? 0)
    func corrupt(_ what: String) -> AudienceError {
      AudienceError(.internal, "users row seq=\(seq): \(what) is not readable")
    }
    let idBytes = stmt.bytes(1)
    guard idBytes.count == 16 else { throw corrupt("content_id") }
    guard let cookie = stmt.text(2) else { throw corrupt("cookie") }
    guard let createdText = stmt.text(5), let createdAt = Timestamp(parsing: createdText) else {
      throw corrupt("created_at")
    }
    guard let interests = StringListCoding.decode(stmt.text(13) ?? "[]") else { throw corrupt("interests") }
    let record = Record(
      cookie: cookie, email: stmt.text(3), phoneNumber: stmt.text(4), createdAt: createdAt,
      location: Location(state: stmt.text(6), country: stmt.text(7), city: stmt.text(8)),
      demographics: Demographics(
        age: stmt.int64(9).map { Int($0) }, gender: stmt.text(10), income: stmt.text(11), education: stmt.text(12)),
      interests: interests)
    return StoredRecord(seq: seq, contentID: contentID(idBytes), record: record)
  }

  static func contentID(_ bytes: [UInt8]) -> ContentID {
    let high = bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    let low = bytes[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    return ContentID(high: high, low: low)
  }
}
