import Glibc
import NIOCore

/// A plain blocking Unix-socket connection: the least client overhead there is, so the
/// figures measure the server. Used for every Audience measurement and for the C echo server.
final class BlockingSocket {
  let fd: Int32
  private var buffer: [UInt8] = []
  private var start = 0
  /// Where each read(2) lands before it is appended to `buffer` (allocated once).
  private var chunk = [UInt8](repeating: 0, count: 1 << 16)
  /// The last frame `readFrameBuffer` returned.
  private var frame = ByteBuffer()

  init(path: String) throws {
    fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw BenchError("socket: \(String(cString: strerror(errno)))") }
    var addr = sockaddr_un()
    addr.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { throw BenchError("socket path too long: \(path)") }
    withUnsafeMutableBytes(of: &addr.sun_path) { raw in
      raw.copyBytes(from: bytes)
      raw[bytes.count] = 0
    }
    let rc = withUnsafePointer(to: &addr) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard rc == 0 else {
      close(fd)
      throw BenchError("connect \(path): \(String(cString: strerror(errno)))")
    }
  }

  deinit { close(fd) }

  func writeAll(_ bytes: [UInt8]) throws { try Self.writeAll(fd, bytes) }

  /// Writes every byte to `fd` (for a writer thread that shares only the descriptor).
  static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws {
    try bytes.withUnsafeBytes { raw in
      var off = 0
      while off < raw.count {
        let n = write(fd, raw.baseAddress! + off, raw.count - off)
        if n < 0 {
          if errno == EINTR { continue }
          throw BenchError("write: \(String(cString: strerror(errno)))")
        }
        off += n
      }
    }
  }

  /// Reads until `count` bytes are buffered; false at end of stream.
  private func fill(_ count: Int) throws -> Bool {
    while buffer.count - start < count {
      if start > 0 && start == buffer.count {
        buffer.removeAll(keepingCapacity: true)
        start = 0
      } else if start > 1 << 20 {
        buffer.removeFirst(start)
        start = 0
      }
      let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, 1 << 16) }
      if n < 0 {
        if errno == EINTR { continue }
        throw BenchError("read: \(String(cString: strerror(errno)))")
      }
      if n == 0 { return false }
      buffer.append(contentsOf: chunk[0..<n])
    }
    return true
  }

  /// One frame's payload (after its 4-byte big-endian length).
  func readFrame() throws -> ArraySlice<UInt8> {
    guard try fill(4) else { throw BenchError("connection closed") }
    let len = buffer[start..<start + 4].reduce(0) { $0 << 8 | Int($1) }
    guard try fill(4 + len) else { throw BenchError("connection closed mid-frame") }
    defer { start += 4 + len }
    return buffer[(start + 4)..<(start + 4 + len)]
  }

  /// One frame's payload, read from the socket straight into its own buffer (after whatever
  /// of it was read already): one copy, as a client that reads into the buffer it decodes from.
  func readFrameBuffer() throws -> ByteBuffer {
    guard try fill(4) else { throw BenchError("connection closed") }
    let len = buffer[start..<start + 4].reduce(0) { $0 << 8 | Int($1) }
    start += 4
    // Reuses the last frame's memory when nothing holds that frame any more (a fresh 2 MB
    // allocation costs a page fault per 4 KiB).
    frame.clear()
    var out = frame
    frame = ByteBuffer()
    defer { frame = out }
    out.reserveCapacity(len)
    let have = min(len, buffer.count - start)
    out.writeBytes(buffer[start..<(start + have)])
    start += have
    while out.readableBytes < len {
      let want = len - out.readableBytes
      var failure: Int32 = 0
      let n = out.writeWithUnsafeMutableBytes(minimumWritableBytes: want) { raw -> Int in
        let n = read(fd, raw.baseAddress!, want)
        if n < 0 { failure = errno }
        return max(0, n)
      }
      if failure == EINTR { continue }
      if failure != 0 { throw BenchError("read: \(String(cString: strerror(failure)))") }
      if n == 0 { throw BenchError("connection closed mid-frame") }
    }
    return out
  }

  /// Reads `count` frames, returning the payload of the last (the rest are only counted).
  func skipFrames(_ count: Int) throws -> ArraySlice<UInt8> {
    var last: ArraySlice<UInt8> = []
    for _ in 0..<count { last = try readFrame() }
    return last
  }
}

struct BenchError: Error, CustomStringConvertible {
  var description: String
  init(_ d: String) { description = d }
}
