import AudienceCore
import Glibc

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
  /// acknowledged, and the next start had none of them. Nil while it is the same file.
  func databaseFileGone() -> AudienceError? {
    guard let opened = databaseFile else { return nil }
    if let now = Self.fileIdentity(db.path), now == opened { return nil }
    return AudienceError(
      .unavailable,
      "storage write failed: the database file \(db.path) was removed or replaced while audienced ran; nothing more is written "
        + "(stop audienced, restore the data directory from a backup, and start it again)")
  }
}
