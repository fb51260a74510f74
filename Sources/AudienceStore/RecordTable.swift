import AudienceCore

/// The `users` table of the embedded database: every accepted raw record, one row each,
/// in the original specification's field names. Profiles and cohorts are derived from it.
struct RecordTable {
  static let schemaVersion = 1

  static let schema = """
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS users (
      seq INTEGER PRIMARY KEY,
      content_id BLOB NOT NULL,
      cookie TEXT NOT NULL,
      email TEXT,
      phone_number TEXT,
      created_at TEXT NOT NULL,
      state TEXT,
      country TEXT,
      city TEXT,
      age INTEGER,
      gender TEXT,
      income TEXT,
      education TEXT,
      interests TEXT NOT NULL
    );
    -- content_id is unique by construction: the single writer skips a record whose content the
    -- graph (rebuilt from this table at start) already holds. Databases made before kept a
    -- UNIQUE index on it; a random B-tree insert per record bought nothing.
    -- The server reads rows only in seq order (start-up) and deletes by seq (forget): indexes on
    -- cookie and email (version 1 had them) cost a random B-tree insert each per record for nothing.
    DROP INDEX IF EXISTS users_cookie;
    DROP INDEX IF EXISTS users_email;
    CREATE TABLE IF NOT EXISTS splits (cookie TEXT PRIMARY KEY, after_seq INTEGER NOT NULL);
    """

  static let insertSQL = insertSQL(rows: 1)

  /// Parameters per row of `insertSQL(rows:)`.
  static let columns: Int32 = 14

  /// Rows one statement of `manyRowsSQL` inserts: stepping a statement has a fixed cost
  /// (the virtual machine's setup, opening the table's cursor), paid once for them all.
  static let manyRows = 32
  static let manyRowsSQL = insertSQL(rows: manyRows)

  /// An INSERT of `rows` rows; row k's parameters are k * `columns` + 1 ... (k + 1) * `columns`.
  static func insertSQL(rows: Int) -> String {
    let row = "(" + Array(repeating: "?", count: Int(columns)).joined(separator: ",") + ")"
    return """
      INSERT INTO users (seq, content_id, cookie, email, phone_number, created_at, state, country, city,
        age, gender, income, education, interests) VALUES \(Array(repeating: row, count: rows).joined(separator: ","))
      """
  }

  static let selectAllSQL = """
    SELECT seq, content_id, cookie, email, phone_number, created_at, state, country, city,
      age, gender, income, education, interests FROM users ORDER BY seq
    """

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
