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
      fd = open(path, O_RDONLY)
      guard fd >= 0 else { throw LineReader.ReadError(message: "cannot open \(path): \(String(cString: strerror(errno)))") }
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

  /// The next chunk, or nil at the end.
  /// - Throws: `Interrupt.Stop` when interrupted while waiting for input (the row begun is not
  ///   finished as if the file ended there).
  func next() throws -> ArraySlice<UInt8>? {
    while true {
      if mayWait, !Interrupt.waitReadable(fd) { throw Interrupt.Stop() }
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
