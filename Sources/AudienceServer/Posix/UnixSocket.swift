import AudienceCore
import NIOCore
internal import Glibc

/// The system calls of the connection layer, on Unix stream socket descriptors.
enum UnixSocket {
  /// A new listening socket bound to `path` (which must not exist), non-blocking for `accept`.
  static func listen(path: String, backlog: Int32) throws(AudienceError) -> Int32 {
    guard var address = address(path) else {
      throw AudienceError(.invalidArgument, "socket path \(path) is longer than \(maxPathBytes) bytes")
    }
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
    guard fd >= 0 else { throw failure("cannot create a socket") }
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard bound == 0, Glibc.listen(fd, backlog) == 0 else {
      let error = failure("cannot listen on \(path)")
      close(fd)
      throw error
    }
    return fd
  }

  /// The longest socket path `sockaddr_un` holds, in bytes.
  static let maxPathBytes = MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1

  /// The address of the socket file at `path`; nil when the path is too long for one.
  static func address(_ path: String) -> sockaddr_un? {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    guard bytes.count <= maxPathBytes else { return nil }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
      for (i, b) in bytes.enumerated() { raw[i] = b }
    }
    return address
  }

  /// Closes a descriptor.
  static func close(_ fd: Int32) { _ = Glibc.close(fd) }

  /// Waits at most `milliseconds` for bytes (or the end of the stream) to arrive; false when
  /// none did.
  static func waitReadable(_ fd: Int32, milliseconds: Int32) -> Bool {
    var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    return poll(&p, 1, milliseconds) == 1
  }

  /// Whether the peer closed its end outright (POLLHUP), without reading: a peer that only shut
  /// down its sending side (`shutdown(SHUT_WR)`) still reads its answers, and is not gone.
  static func peerClosed(_ fd: Int32) -> Bool {
    var p = pollfd(fd: fd, events: 0, revents: 0)
    return poll(&p, 1, 0) == 1 && p.revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0
  }

  /// Makes an inherited listening socket (systemd's) non-blocking for `accept`.
  static func adopt(listening fd: Int32) {
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    _ = fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC)
  }

  /// Sets an integer socket option.
  static func set(_ fd: Int32, _ name: Int32, _ value: Int32) {
    var v = value
    _ = setsockopt(fd, SOL_SOCKET, name, &v, socklen_t(MemoryLayout<Int32>.size))
  }

  /// Makes `read` (SO_RCVTIMEO) or `send` (SO_SNDTIMEO) on `fd` return EAGAIN after `seconds`
  /// without progress.
  static func setTimeout(_ fd: Int32, _ name: Int32, seconds: Int) {
    var t = timeval(tv_sec: seconds, tv_usec: 0)
    _ = setsockopt(fd, SOL_SOCKET, name, &t, socklen_t(MemoryLayout<timeval>.size))
  }

  /// The peer's SO_PEERCRED credentials, or nil when the kernel does not say.
  /// The supplementary groups of the peer's process (`Groups:` of /proc/PID/status), when that
  /// process still has the peer's uid (its real one); empty when they cannot be read.
  static func supplementaryGroups(of peer: PeerCredentials) -> Set<UInt32> {
    guard peer.pid > 0, let f = fopen("/proc/\(peer.pid)/status", "r") else { return [] }
    defer { fclose(f) }
    var groups: Set<UInt32> = []
    var uidMatches = false
    var line: UnsafeMutablePointer<CChar>?
    var capacity = 0
    defer { free(line) }
    while getline(&line, &capacity, f) > 0, let line {
      let text = String(cString: line)
      let fields = text.split(whereSeparator: { $0 == "\t" || $0 == " " || $0 == "\n" })
      if fields.first == "Uid:" { uidMatches = fields.count > 1 && UInt32(fields[1]) == peer.uid }
      if fields.first == "Groups:" { groups = Set(fields.dropFirst().compactMap { UInt32($0) }) }
    }
    return uidMatches ? groups : []
  }

  static func peerCredentials(_ fd: Int32) -> PeerCredentials? {
    var peer = PeerCredentials()
    var length = socklen_t(MemoryLayout<PeerCredentials>.size)
    guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &length) == 0 else { return nil }
    return peer
  }

  /// How a `send` ended.
  enum Sent: Equatable {
    case written
    /// The peer took nothing for `stallLimit` (or, without `wait`, the write would block).
    case stalled
    /// The connection is broken (the peer closed it, or it was shut down).
    case broken
  }

  /// Writes all of `bytes`, blocking while the peer's buffer is full, for at most `stallLimit`
  /// without progress (the socket's send timeout decides how often that is checked). With
  /// `wait` false, gives up as soon as it would block.
  static func send(_ fd: Int32, _ bytes: ByteBuffer, wait: Bool = true, stallLimit: Duration = .seconds(300)) -> Sent {
    bytes.withUnsafeReadableBytes { raw in
      var offset = 0
      var progress = ContinuousClock.now
      let flags = Int32(MSG_NOSIGNAL) | (wait ? 0 : Int32(MSG_DONTWAIT))
      while offset < raw.count {
        let n = Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, flags)
        if n > 0 {
          offset += n
          progress = .now
        } else if n < 0 && errno == EINTR {
          continue
        } else if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
          if wait && ContinuousClock.now - progress < stallLimit { continue }
          return .stalled
        } else {
          return .broken
        }
      }
      return .written
    }
  }

  /// What a read got.
  enum Received { case bytes, timedOut, closed }

  /// Reads what has arrived (at most `atMost` bytes, and what `buffer` can take once it has room
  /// for `room` more), blocking until something does, the receive timeout passes, or the
  /// connection ends.
  static func receive(_ fd: Int32, into buffer: inout ByteBuffer, room: Int, atMost: Int = .max) -> Received {
    while true {
      var result = 0
      var failure: Int32 = 0
      buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: room) { raw in
        result = read(fd, raw.baseAddress, min(raw.count, atMost))
        failure = result < 0 ? errno : 0
        return max(result, 0)
      }
      if result > 0 { return .bytes }
      if result == 0 { return .closed }
      switch failure {
      case EINTR: continue
      case EAGAIN, EWOULDBLOCK: return .timedOut
      default: return .closed
      }
    }
  }

  private static func failure(_ what: String) -> AudienceError {
    AudienceError(.unavailable, "\(what): \(String(cString: strerror(errno)))")
  }
}
