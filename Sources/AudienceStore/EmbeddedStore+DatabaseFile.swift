import AudienceCore
import Glibc
import Logging
import Synchronization

extension EmbeddedStore {
  /// The device and inode of the file at `path`, nil when there is none.
  static func fileIdentity(_ path: String) -> (device: UInt64, inode: UInt64)? {
    var st = stat()
    guard stat(path, &st) == 0 else { return nil }
    return (UInt64(st.st_dev), UInt64(st.st_ino))
  }

  /// Why nothing may be written: `audience.db` is no longer the file the store opened (the data
  /// directory was removed, or the file replaced, while the server ran). The store's connection
  /// still wrote to the file it opened, which no one could open again: ingests were
  /// acknowledged, and the next start had none of them. Nil while it is the same file; else the
  /// refusal, noted as the last write failure (Health says it).
  func databaseFileGone() -> AudienceError? {
    guard let opened = databaseFile else { return nil }
    if let now = Self.fileIdentity(db.path), now == opened { return nil }
    let gone = AudienceError(
      .unavailable,
      "storage write failed: the database file \(db.path) was removed or replaced while audienced ran; nothing more is written "
        + "(stop audienced, restore the data directory from a backup, and start it again)")
    lastWriteFailure.withLock { $0 = gone.message }
    return gone
  }

  /// What SQLite's `quick_check` finds wrong with `db` (its first few problems), nil when it is
  /// sound. A restore from the shutdown snapshot reads only the tables' counts, so a damaged
  /// database served on without a word until an erasure touched the damage, and the next start
  /// without a snapshot could not read it.
  static func quickCheck(_ db: SQLiteDatabase) -> String? {
    do {
      let check = try db.prepare("PRAGMA quick_check(3)")
      defer { check.reset() }
      var problems: [String] = []
      // One line each ("*** in database main ***" comes on a line of its own).
      while try check.step() { problems.append((check.text(0) ?? "").split(separator: "\n").joined(separator: " ")) }
      return problems == ["ok"] ? nil : problems.joined(separator: "; ")
    } catch {
      return error.message
    }
  }

  /// After a restore: checks the database (a fraction of a second for a million records),
  /// logging what is wrong and saying it in Health until a restart.
  func checkDatabase() {
    guard let damage = Self.quickCheck(db) else { return }
    let said = "\(db.path) is damaged (SQLite's quick_check: \(damage)); stop audienced and restore it from a backup (docs/OPERATIONS.md)"
    databaseDamage.withLock { $0 = said }
    logger.critical("the database is damaged", metadata: ["store.path": "\(db.path)", "store.error": "\(damage)"])
  }
}
