internal import Glibc

/// Reads a file (or standard input for "-") line by line without loading it whole: a line
/// longer than `maxLineBytes` is not kept either (a file with no line breaks, a JSON array on
/// one line), only measured, so memory stays bounded whatever the input.
final class LineReader {
  private let fd: Int32
  private let ownsFile: Bool
  private var chunk = [UInt8](repeating: 0, count: 1 << 16)
  private var start = 0
  private var end = 0
  private var atEnd = false
  private var line: [UInt8] = []
  /// The longest line kept.
  let maxLineBytes: Int
  /// 1-based number of the last line returned.
  private(set) var lineNumber = 0
  /// Bytes read so far.
  private(set) var bytesRead = 0
  /// The file's size, or 0 when unknown (a pipe).
  private(set) var size = 0
  /// Why reading stopped before the end (EIO, EISDIR, ...), once `next` returned nil.
  private(set) var failure: String?
  /// Not a regular file: a read may wait (for a pipe's writer, a terminal's user).
  private var mayWait = false
  /// The line being read (kept across a `quiet` return): its bytes so far (`line`), length,
  /// first telling byte, and whether any byte of it was read.
  private var length = 0
  private var first: UInt8?
  private var any = false
  /// Said `quiet` since the last bytes came: the next wait is for bytes alone.
  private var saidQuiet = false
  /// The first line holds a carriage return followed by `{`: the file's lines end with CR alone.
  private(set) var firstLineHasLoneCR = false
  private var lastWasCR = false

  /// - Parameters:
  ///   - path: a file path, or "-" for standard input.
  ///   - maxLineBytes: the longest line kept (longer ones are `tooLong`).
  init(path: String, maxLineBytes: Int = 16 << 20) throws {
    self.maxLineBytes = maxLineBytes
    if path == "-" {
      fd = 0
      ownsFile = false
    } else {
      fd = try Self.openForReading(path)
      ownsFile = true
    }
    var st = stat()
    if fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG { size = Int(st.st_size) } else { mayWait = true }
  }

  deinit { if ownsFile { close(fd) } }

  /// Opens `path` to read. A named pipe is opened without waiting for its writer (an `open`
  /// that waits cannot be interrupted; the reads wait instead, in `Interrupt.waitReadable`).
  static func openForReading(_ path: String) throws -> Int32 {
    let fd = open(path, O_RDONLY | O_NONBLOCK)
    guard fd >= 0 else { throw ReadError(message: "cannot open \(path): \(String(cString: strerror(errno)))") }
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
    return fd
  }

  /// A line's text, or why it has none.
  enum Line {
    case text(String)
    /// A pipe was quiet for `Interrupt.quietAfter` (said once per pause; the line begun is kept
    /// for the next call): the caller sends what it holds.
    case quiet
    /// The line's bytes are not UTF-8. (Decoded anyway, each bad byte would become U+FFFD, and
    /// two cookies differing only there would be stored as one.)
    case notUTF8
    /// The line is longer than `maxLineBytes`: its length, and its first byte (`[` for a JSON
    /// array).
    case tooLong(bytes: Int, first: UInt8?)
  }

  /// The next line without its line terminator (`\n` or `\r\n`), or nil at the end. The first
  /// line loses a UTF-8 byte order mark, as a CSV file's does.
  func next() -> Line? {
    while true {
      if start == end {
        if atEnd { break }
        if mayWait {
          switch Interrupt.waitForInput(fd, saidQuiet: &saidQuiet) {
          case .interrupted, .connectionClosed:
            // Interrupted, or the connection closed, while waiting for input: the end, the line
            // begun dropped (`Interrupt`).
            atEnd = true
            return nil
          case .quiet: return .quiet
          case .readable: break
          }
        }
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n < 0 { failure = "read failed: \(String(cString: strerror(errno)))" }
        if n <= 0 {
          atEnd = true
          break
        }
        (start, end) = (0, n)
        bytesRead += n
      }
      any = true
      let lineBreak: Int? = chunk.withUnsafeBytes { raw in
        memchr(raw.baseAddress! + start, 0x0A, end - start).map { UnsafeRawPointer($0) - raw.baseAddress! }
      }
      let stop = lineBreak ?? end
      // The first byte that says what the line is (past a byte order mark and spaces).
      if first == nil {
        first = chunk[start..<stop].first { ![0x20, 0x09, 0xEF, 0xBB, 0xBF].contains($0) }
      }
      if lineNumber == 0 {
        // The first line: a carriage return followed by the start of another record means the
        // lines end with CR alone (old Mac files), and the whole file is this one line. (A CR
        // before anything else is JSON's whitespace: `{"cookie": "x",\r"email": ...}` was
        // refused as a file of CR-ended lines.)
        for b in chunk[start..<stop] {
          if lastWasCR && b == UInt8(ascii: "{") { firstLineHasLoneCR = true }
          lastWasCR = b == 0x0D
        }
      }
      length += stop - start
      if length <= maxLineBytes { line.append(contentsOf: chunk[start..<stop]) } else if !line.isEmpty { line = [] }
      start = lineBreak.map { $0 + 1 } ?? end
      if lineBreak != nil { break }
    }
    guard any else { return nil }
    // The line is complete: the next starts afresh.
    defer {
      line.removeAll(keepingCapacity: true)
      (length, first, any) = (0, nil, false)
    }
    lineNumber += 1
    if length > maxLineBytes { return .tooLong(bytes: length, first: first) }
    var count = line.count
    if count > 0, line[count - 1] == 0x0D { count -= 1 }
    return line.withUnsafeBufferPointer { all -> Line in
      var bytes = UnsafeBufferPointer(rebasing: all[..<count])
      // A byte order mark starts no JSON: the first line's, or a later file's joined with `cat`.
      if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = UnsafeBufferPointer(rebasing: bytes[3...]) }
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
