import AudienceCore
internal import Glibc

/// A progress line on standard error (a terminal only): records, records/s, percent and ETA
/// when the input's size is known. Redrawn at most five times a second, cleared at the end.
struct Progress {
  let enabled: Bool
  private var total = 0
  private var started = 0.0
  private var lastDraw = 0.0
  private var drawn = false

  init(enabled: Bool) { self.enabled = enabled }

  private static func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
  }

  /// A new input of `total` bytes (0: unknown).
  mutating func start(total: Int) {
    self.total = total
    if started == 0 { started = Self.now() }
  }

  mutating func update(records: Int, bytes: Int) {
    guard enabled else { return }
    let t = Self.now()
    guard t - lastDraw >= 0.2 else { return }
    lastDraw = t
    let elapsed = max(t - started, 1e-3)
    var line = "\r\(records) records, \(Int(Double(records) / elapsed))/s"
    if total > 0 {
      let fraction = min(1, Double(bytes) / Double(total))
      line += ", \(Int(fraction * 100))%"
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
