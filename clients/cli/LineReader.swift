internal import Glibc

/// Reads a file (or standard input for "-") line by line without loading it whole.
final class LineReader {
  private let file: UnsafeMutablePointer<FILE>
  private let ownsFile: Bool
  private var buffer: UnsafeMutablePointer<CChar>?
  private var capacity = 0
  /// 1-based number of the last line returned.
  private(set) var lineNumber = 0
  /// Bytes read so far.
  private(set) var bytesRead = 0
  /// The file's size, or 0 when unknown (a pipe).
  private(set) var size = 0

  /// - Parameters:
  ///   - path: a file path, or "-" for standard input.
  init(path: String) throws {
    if path == "-" {
      guard let f = fdopen(0, "r") else { throw ReadError(message: "cannot read standard input") }
      file = f
      ownsFile = false
    } else {
      guard let f = fopen(path, "r") else {
        throw ReadError(message: "cannot open \(path): \(String(cString: strerror(errno)))")
      }
      file = f
      ownsFile = true
    }
    var st = stat()
    if fstat(fileno(file), &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG { size = Int(st.st_size) }
  }

  deinit {
    free(buffer)
    if ownsFile { fclose(file) }
  }

  /// A line's text, or why it has none.
  enum Line {
    case text(String)
    /// The line's bytes are not UTF-8. (Decoded anyway, each bad byte would become U+FFFD, and
    /// two cookies differing only there would be stored as one.)
    case notUTF8
  }

  /// The next line without its line terminator (`\n` or `\r\n`), or nil at the end. The first
  /// line loses a UTF-8 byte order mark, as a CSV file's does.
  func next() -> Line? {
    let n = getline(&buffer, &capacity, file)
    guard n >= 0, let buffer else { return nil }
    lineNumber += 1
    bytesRead += n
    var length = n
    if length > 0, buffer[length - 1] == 0x0A { length -= 1 }
    if length > 0, buffer[length - 1] == 0x0D { length -= 1 }
    return buffer.withMemoryRebound(to: UInt8.self, capacity: length) { start -> Line in
      var bytes = UnsafeBufferPointer(start: start, count: length)
      if lineNumber == 1, bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = UnsafeBufferPointer(rebasing: bytes[3...]) }
      let text = String(decoding: bytes, as: UTF8.self)
      // Decoding repairs invalid UTF-8, so a line that decodes to other bytes was not UTF-8.
      return text.utf8.count == bytes.count && text.utf8.elementsEqual(bytes) ? .text(text) : .notUTF8
    }
  }

  struct ReadError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
  }
}
