internal import CSQLite
import AudienceCore
internal import Glibc

/// One SQLite connection. Owns its `sqlite3*`; `close()` must be called (after every
/// statement is finalized) before the last reference goes.
///
/// `@unchecked Sendable`: `EmbeddedStore` uses it from one thread at a time (its opener, then
/// the writer's leader, then its closer, each handing over under a lock), so the connection is
/// opened without SQLite's own per-call mutex (`SQLITE_OPEN_NOMUTEX`).
final class SQLiteDatabase: @unchecked Sendable {
  private(set) var handle: OpaquePointer?
  let path: String

  /// Opens (creating if needed) the database file.
  /// - Parameters:
  ///   - path: the database file.
  init(path: String) throws(AudienceError) {
    self.path = path
    _ = Self.configured
    var db: OpaquePointer?
    let rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil)
    guard rc == SQLITE_OK, let db else {
      let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
      sqlite3_close_v2(db)
      throw AudienceError(.unavailable, "cannot open database \(path): \(message)\(Self.accessProblem(path))")
    }
    handle = db
  }

  /// Why the file or its directory cannot be opened for writing, when the system says so
  /// (SQLite says only "unable to open database file"), for the error: empty otherwise.
  static func accessProblem(_ path: String) -> String {
    let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
    if access(path, F_OK) == 0 {
      if access(path, R_OK | W_OK) != 0 { return " (\(path): \(String(cString: strerror(errno))) for this user)" }
    } else if access(directory.isEmpty ? "." : directory, W_OK | X_OK) != 0 {
      return " (\(directory.isEmpty ? "." : directory): \(String(cString: strerror(errno))) for this user)"
    }
    return ""
  }

  /// Process-wide settings, made once before the first connection: no memory statistics (they
  /// take a global mutex on every allocation SQLite makes).
  private static let configured: Bool = csqlite_disable_memstatus() == SQLITE_OK

  deinit { assert(handle == nil, "SQLiteDatabase for \(path) was not closed") }

  func close() {
    guard let h = handle else { return }
    sqlite3_close_v2(h)
    handle = nil
  }

  /// Runs SQL without results (several statements allowed).
  /// - Parameters:
  ///   - sql: the statements.
  func execute(_ sql: String) throws(AudienceError) {
    var error: UnsafeMutablePointer<CChar>?
    let rc = sqlite3_exec(handle, sql, nil, nil, &error)
    if rc != SQLITE_OK {
      let message = error.map { String(cString: $0) } ?? lastError
      sqlite3_free(error)
      throw AudienceError(.unavailable, "database \(path): \(message)")
    }
  }

  /// Runs `body` in a transaction (BEGIN IMMEDIATE): committed when it returns, rolled back
  /// when it or the commit throws.
  func transaction<T>(_ body: () throws(AudienceError) -> T) throws(AudienceError) -> T {
    try execute("BEGIN IMMEDIATE")
    do {
      let result = try body()
      try execute("COMMIT")
      return result
    } catch {
      try? execute("ROLLBACK")
      throw error
    }
  }

  var lastError: String { handle.map { String(cString: sqlite3_errmsg($0)) } ?? "closed" }

  /// Compiles a statement.
  /// - Parameters:
  ///   - sql: one statement.
  func prepare(_ sql: String) throws(AudienceError) -> SQLiteStatement {
    try SQLiteStatement(db: self, sql: sql)
  }
}

/// A prepared statement, owned by one Swift value; finalized on `deinit`.
final class SQLiteStatement {
  private var stmt: OpaquePointer?
  private let db: SQLiteDatabase

  fileprivate init(db: SQLiteDatabase, sql: String) throws(AudienceError) {
    self.db = db
    let rc = sqlite3_prepare_v3(db.handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
    guard rc == SQLITE_OK, stmt != nil else {
      throw AudienceError(.internal, "cannot prepare \(sql): \(db.lastError)")
    }
  }

  deinit { sqlite3_finalize(stmt) }

  func reset() {
    sqlite3_reset(stmt)
    sqlite3_clear_bindings(stmt)
  }

  /// Resets for the next step, keeping the bindings (the caller binds every parameter again).
  func rewind() { sqlite3_reset(stmt) }

  /// Binds a text or NULL at a 1-based index.
  func bind(_ index: Int32, _ value: String?) {
    guard var value else { sqlite3_bind_null(stmt, index); return }
    // The string's own UTF-8 (no C-string copy): SQLite copies it (SQLITE_TRANSIENT).
    value.withUTF8 { utf8 in
      _ = utf8.withMemoryRebound(to: CChar.self) { text in
        guard let base = text.baseAddress, !text.isEmpty else { return sqlite3_bind_text(stmt, index, "", 0, nil) }
        return sqlite3_bind_text(stmt, index, base, Int32(text.count), csqlite_transient())
      }
    }
  }

  func bindNull(_ index: Int32) { sqlite3_bind_null(stmt, index) }

  /// Binds text SQLite does not copy: `text` must stay valid until the statement is stepped and
  /// reset (or bound again).
  /// - Throws: when SQLite refuses it (`SQLITE_TOOBIG` past its length limit), rather than
  ///   leaving the parameter NULL.
  func bindStatic(_ index: Int32, _ text: UnsafeBufferPointer<UInt8>) throws(AudienceError) {
    guard let base = text.baseAddress, !text.isEmpty else { return bind(index, "") }
    guard text.count <= Int(Int32.max) else {
      throw AudienceError(.resourceExhausted, "database \(db.path): a text of \(text.count) bytes is too large to bind")
    }
    let rc = base.withMemoryRebound(to: CChar.self, capacity: text.count) {
      sqlite3_bind_text(stmt, index, $0, Int32(text.count), nil)
    }
    guard rc == SQLITE_OK else {
      throw AudienceError(.unavailable, "database \(db.path): binding a text of \(text.count) bytes: \(db.lastError)")
    }
  }

  func bind(_ index: Int32, _ value: Int64?) {
    guard let value else { sqlite3_bind_null(stmt, index); return }
    sqlite3_bind_int64(stmt, index, value)
  }

  func bind(_ index: Int32, bytes: [UInt8]) {
    bytes.withUnsafeBytes { bind(index, bytes: $0) }
  }

  func bind(_ index: Int32, bytes: UnsafeRawBufferPointer) {
    _ = sqlite3_bind_blob(stmt, index, bytes.baseAddress, Int32(bytes.count), csqlite_transient())
  }

  /// Steps the statement (one that returns no rows) once for each value, bound by `bind`, and
  /// leaves it reset.
  func stepEach<S: Sequence>(_ values: S, _ bind: (SQLiteStatement, S.Element) -> Void) throws(AudienceError) {
    defer { reset() }
    for value in values {
      reset()
      bind(self, value)
      _ = try step()
    }
  }

  /// Steps once. Returns true when a row is available, false when done.
  func step() throws(AudienceError) -> Bool {
    switch sqlite3_step(stmt) {
    case SQLITE_ROW: return true
    case SQLITE_DONE: return false
    default: throw AudienceError(.unavailable, "database \(db.path): \(db.lastError)")
    }
  }

  func text(_ column: Int32) -> String? {
    guard let p = sqlite3_column_text(stmt, column) else { return nil }
    return String(cString: p)
  }

  func int64(_ column: Int32) -> Int64? {
    sqlite3_column_type(stmt, column) == SQLITE_NULL ? nil : sqlite3_column_int64(stmt, column)
  }

  func bytes(_ column: Int32) -> [UInt8] {
    let n = Int(sqlite3_column_bytes(stmt, column))
    guard n > 0, let p = sqlite3_column_blob(stmt, column) else { return [] }
    return Array(UnsafeRawBufferPointer(start: p, count: n))
  }
}
