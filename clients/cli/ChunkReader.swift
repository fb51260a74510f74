internal import Glibc

/// Reads a file (or standard input for "-") in chunks of 256 KiB, for the CSV parser.
final class ChunkReader {
  private let fd: Int32
  private let ownsFile: Bool
  private var buffer = [UInt8](repeating: 0, count: 256 << 10)
  /// Bytes read so far.
  private(set) var bytesRead = 0
  /// The file's size, or 0 when unknown (a pipe).
  let size: Int

  /// - Parameters:
  ///   - path: a file path, or "-" for standard input.
  init(path: String) throws {
    if path == "-" {
      fd = 0
      ownsFile = false
    } else {
      fd = try LineReader.openForReading(path)
      ownsFile = true
    }
    var st = stat()
    let regular = fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    size = regular ? Int(st.st_size) : 0
    mayWait = !regular
  }

  /// Not a regular file: a read may wait (for a pipe's writer, a terminal's user).
  private let mayWait: Bool

  deinit { if ownsFile { close(fd) } }

  /// Said `quiet` since the last bytes came: the next wait is for bytes alone.
  private var saidQuiet = false

  /// The next chunk; an empty one when a pipe was quiet for `Interrupt.quietAfter` (once per
  /// pause: the caller sends what it holds); nil at the end.
  /// - Throws: `Interrupt.Stop` when interrupted while waiting for input (the row begun is not
  ///   finished as if the file ended there).
  func next() throws -> ArraySlice<UInt8>? {
    while true {
      if mayWait {
        switch Interrupt.waitForInput(fd, saidQuiet: &saidQuiet) {
        case .interrupted: throw Interrupt.Stop()
        // The connection closed while waiting for input: nothing more is read, and the row
        // begun is dropped, not finished as if the file ended there.
        case .connectionClosed: throw Interrupt.ConnectionClosed()
        case .quiet: return buffer[0..<0]
        case .readable: break
        }
      }
      let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
      if n < 0 {
        if errno == EINTR { continue }
        throw LineReader.ReadError(message: "read failed: \(String(cString: strerror(errno)))")
      }
      if n == 0 { return nil }
      bytesRead += n
      return buffer[0..<n]
    }
  }
}
