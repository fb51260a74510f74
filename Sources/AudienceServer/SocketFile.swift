import AudienceCore
internal import Glibc

/// Checks and cleans the socket path before binding, and fixes its permissions after.
enum SocketFile {
  /// Removes a stale socket file; refuses when another server answers on it or the path
  /// is not a socket.
  static func prepare(_ path: String) throws {
    if let problem = problem(at: path) { throw AudienceError(.failedPrecondition, problem) }
    unlink(path)
  }

  /// Why the file at `path` may not be replaced by a new socket (it is not a socket, or a server
  /// answers on it); nil when there is none or it is a stale socket. Also checked before the
  /// store opens (`ServerConfiguration.socketPathProblem`).
  static func problem(at path: String) -> String? {
    var st = stat()
    guard lstat(path, &st) == 0 else { return nil }
    guard (st.st_mode & S_IFMT) == S_IFSOCK else { return "\(path) exists and is not a socket; refusing to replace it" }
    return isAnswering(path) ? "another server is already listening on \(path)" : nil
  }

  static func isAnswering(_ path: String) -> Bool {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    guard var addr = UnixSocket.address(path) else { return false }
    let rc = withUnsafePointer(to: &addr) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    return rc == 0
  }

  static func setMode(_ path: String, _ mode: UInt32) throws {
    guard chmod(path, mode_t(mode)) == 0 else {
      throw AudienceError(.unavailable, "cannot set mode \(String(mode, radix: 8)) on \(path): \(String(cString: strerror(errno)))")
    }
  }

  /// Gives the socket file to a user and/or group (nil leaves that one as it is).
  static func setOwner(_ path: String, uid: UInt32?, gid: UInt32?) throws {
    guard uid != nil || gid != nil else { return }
    guard chown(path, uid.map { uid_t($0) } ?? uid_t.max, gid.map { gid_t($0) } ?? gid_t.max) == 0 else {
      throw AudienceError(
        .unavailable,
        "cannot give \(path) to uid \(uid.map(String.init) ?? "-") gid \(gid.map(String.init) ?? "-"): \(String(cString: strerror(errno)))")
    }
  }

  /// Runs `body` with a umask that keeps the new socket from ever being wider than `mode`.
  static func withUmask<T, E: Error>(for mode: UInt32, _ body: () throws(E) -> T) throws(E) -> T {
    let old = umask(mode_t(~mode & 0o777))
    defer { umask(old) }
    return try body()
  }

  static func remove(_ path: String) { unlink(path) }

  /// The device and inode of the file at `path`, nil when there is none.
  static func identity(_ path: String) -> (device: UInt64, inode: UInt64)? {
    var st = stat()
    guard lstat(path, &st) == 0 else { return nil }
    return (UInt64(st.st_dev), UInt64(st.st_ino))
  }

  /// Removes the socket file at `path` only if it is still the one this server bound: while it
  /// drained, another server may have put its own there (it saw no server listening), and a
  /// shutdown removed that one, leaving it running where no client could reach it.
  static func remove(_ path: String, ifStill bound: (device: UInt64, inode: UInt64)?) {
    guard let bound, let now = identity(path), now == bound else { return }
    unlink(path)
  }
}
