import AudienceWire
import Foundation
import NIOCore

/// A blocking Unix-socket peer that sends arbitrary bytes, for hostile-input tests. Used by one
/// thread at a time.
final class RawSocket: @unchecked Sendable {
  let fd: Int32

  init(path: String) throws {
    fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    var addr = sockaddr_un()
    addr.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &addr.sun_path) { raw in
      for (i, b) in path.utf8.enumerated() { raw[i] = b }
    }
    let rc = withUnsafePointer(to: &addr) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard rc == 0 else { close(fd); throw POSIXError(.ECONNREFUSED) }
    // A safety net against a hung server, not a measure of speed: on a loaded machine an
    // answer can take seconds, and a read that gave up early would look like a missing answer.
    var tv = timeval(tv_sec: 30, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
  }

  deinit { close(fd) }

  func send(_ bytes: [UInt8]) {
    bytes.withUnsafeBytes { _ = Foundation.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
  }

  func send(_ request: WireRequest) {
    var buffer = ByteBuffer()
    WireCodec.encode(request, into: &buffer)
    send(Array(buffer.readableBytesView))
  }

  func hello() throws {
    send(WireRequest(id: 1, body: .hello(protocolVersion: audienceProtocolVersion, clientName: "raw")))
    _ = try readResponse()
  }

  /// Reads one frame and decodes it; nil when the server closed the connection.
  func readResponse() throws -> WireResponse? {
    guard let header = read(4) else { return nil }
    let length = header.reduce(0) { $0 << 8 | Int($1) }
    guard let payload = read(length) else { return nil }
    return try WireCodec.decodeResponse(ByteBuffer(bytes: payload))
  }

  /// True when the server has sent something or closed (a response waits, or read returns 0),
  /// without reading it: never blocks.
  func serverSentOrClosed() -> Bool {
    var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    return poll(&p, 1, 0) == 1
  }

  /// True when the server closed its side (read returns 0).
  func isClosedByPeer() -> Bool {
    var b: UInt8 = 0
    return recv(fd, &b, 1, 0) == 0
  }

  private func read(_ n: Int) -> [UInt8]? {
    var out = [UInt8](repeating: 0, count: n)
    var got = 0
    while got < n {
      let r = out.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, n - got, 0) }
      if r <= 0 { return nil }
      got += r
    }
    return out
  }
}
