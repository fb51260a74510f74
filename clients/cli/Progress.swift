import AudienceCore
internal import Glibc

/// A progress line on standard error (a terminal only): records acknowledged, records/s, and,
/// when the inputs' sizes are known, the share of them read and an ETA. With several files, the
/// file being read ("file 2/4 b.csv") and the share of all of them. Redrawn at most five times a
/// second, cleared at the end.
struct Progress {
  let enabled: Bool
  /// Each input's size in bytes (0: unknown, a pipe).
  private let sizes: [Int]
  private var file = 0
  private var label = ""
  private var started = 0.0
  private var lastDraw = 0.0
  private var drawn = false

  /// - Parameters:
  ///   - enabled: whether to draw (a terminal, no --json).
  ///   - sizes: the inputs' sizes, in the order they are read (0 for one of unknown size).
  init(enabled: Bool, sizes: [Int] = []) {
    self.enabled = enabled
    self.sizes = sizes
  }

  /// A regular file's size; 0 for anything else (a pipe, standard input).
  static func size(of path: String) -> Int {
    var st = stat()
    guard path != "-", stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return 0 }
    return Int(st.st_size)
  }

  private static func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
  }

  /// The input `file` (its index in `sizes`) begins; `name` is shown when there are several.
  mutating func start(file: Int, name: String?) {
    self.file = file
    label = sizes.count > 1 ? "file \(file + 1)/\(sizes.count)\(name.map { " \($0)" } ?? ""): " : ""
    if started == 0 { started = Self.now() }
  }

  /// - Parameters:
  ///   - records: records acknowledged so far, all inputs.
  ///   - bytes: bytes of the current input read so far.
  mutating func update(records: Int, bytes: Int) {
    guard enabled else { return }
    let t = Self.now()
    guard t - lastDraw >= 0.2 else { return }
    lastDraw = t
    let elapsed = max(t - started, 1e-3)
    var line = "\r\(label)\(records) records, \(Int(Double(records) / elapsed))/s"
    // Of all the inputs when every size is known, else of this one.
    let known = !sizes.isEmpty && !sizes.contains(0)
    let total = known ? sizes.reduce(0, +) : (file < sizes.count ? sizes[file] : 0)
    let done = (known ? sizes.prefix(file).reduce(0, +) : 0) + bytes
    if total > 0 {
      let fraction = min(1, Double(done) / Double(total))
      line += ", \(Int(fraction * 100))% read"
      if fraction > 0.01 { line += ", ETA \(Int(elapsed / fraction - elapsed))s" }
    }
    line += "\u{1B}[K"
    _ = line.withCString { write(2, $0, strlen($0)) }
    drawn = true
  }

  /// Removes the line.
  mutating func clear() {
    guard drawn else { return }
    _ = "\r\u{1B}[K".withCString { write(2, $0, strlen($0)) }
    drawn = false
  }
}
