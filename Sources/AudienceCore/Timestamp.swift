/// A moment in time, seconds since 1970-01-01T00:00:00 UTC.
///
/// Records carry naive wall-clock times (the original specification stores
/// `2025-03-10T15:30:00` with no zone); inputs with an explicit offset are
/// converted to UTC. The core does its own calendar arithmetic (proleptic
/// Gregorian) so that it needs no Foundation and is fast.
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
  /// Seconds since the Unix epoch.
  public var seconds: Int64

  /// - Parameters:
  ///   - seconds: seconds since 1970-01-01T00:00:00.
  public init(seconds: Int64) { self.seconds = seconds }

  public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.seconds < rhs.seconds }

  /// `YYYY-MM-DDTHH:MM:SS`, the stored form.
  public var description: String { iso8601 }

  /// `YYYY-MM-DDTHH:MM:SS`, the stored form. Written digit by digit into 19 bytes: it is on the
  /// path of every user the server returns.
  public var iso8601: String {
    let f = fields
    guard (0...9999).contains(f.y) else { return Self.padded(f.y, f.m, f.d, f.secs) }
    return String(unsafeUninitializedCapacity: 19) { out in
      Self.write(f, into: out)
      return 19
    }
  }

  /// Appends `iso8601`'s UTF-8 bytes (without making a `String`: 19 bytes would be a heap block).
  /// - Parameters:
  ///   - bytes: where to append.
  public func appendISO8601(to bytes: inout [UInt8]) {
    let f = fields
    guard (0...9999).contains(f.y) else { return bytes.append(contentsOf: Self.padded(f.y, f.m, f.d, f.secs).utf8) }
    let start = bytes.count
    bytes.append(contentsOf: repeatElement(0, count: 19))
    bytes.withUnsafeMutableBufferPointer { all in
      Self.write(f, into: UnsafeMutableBufferPointer(rebasing: all[start..<start + 19]))
    }
  }

  /// Year, month, day and second of the day.
  private var fields: (y: Int64, m: Int64, d: Int64, secs: Int) {
    let days = Self.floorDiv(seconds, 86_400)
    let (y, m, d) = Self.civil(fromDays: days)
    return (y, m, d, Int(seconds - days * 86_400))
  }

  /// Writes `YYYY-MM-DDTHH:MM:SS` digit by digit into 19 bytes (a year in 0...9999).
  private static func write(_ f: (y: Int64, m: Int64, d: Int64, secs: Int), into out: UnsafeMutableBufferPointer<UInt8>) {
    func put(_ at: Int, _ value: Int, _ width: Int) {
      var v = value
      for k in stride(from: at + width - 1, through: at, by: -1) {
        out[k] = UInt8(truncatingIfNeeded: 0x30 + v % 10)
        v /= 10
      }
    }
    put(0, Int(f.y), 4); out[4] = 0x2D; put(5, Int(f.m), 2); out[7] = 0x2D; put(8, Int(f.d), 2)
    out[10] = 0x54; put(11, f.secs / 3600, 2); out[13] = 0x3A; put(14, (f.secs / 60) % 60, 2)
    out[16] = 0x3A; put(17, f.secs % 60, 2)
  }

  /// The general form, for years outside 0...9999.
  private static func padded(_ y: Int64, _ m: Int64, _ d: Int64, _ secs: Int) -> String {
    var out = ""
    pad(&out, y, 4); out += "-"; pad(&out, m, 2); out += "-"; pad(&out, d, 2)
    out += "T"; pad(&out, Int64(secs / 3600), 2); out += ":"; pad(&out, Int64((secs / 60) % 60), 2)
    out += ":"; pad(&out, Int64(secs % 60), 2)
    return out
  }

  /// Builds a timestamp from calendar fields, or nil when they are not a valid date.
  /// - Parameters:
  ///   - year: 1...9999.
  ///   - month: 1...12.
  ///   - day: 1...days in that month.
  ///   - hour: 0...23.
  ///   - minute: 0...59.
  ///   - second: 0...59.
  /// The seconds of the times from 0001-01-01T00:00:00 to 9999-12-31T23:59:59: what
  /// `iso8601` writes in 19 bytes and `init(parsing:)` reads back.
  static let writable: ClosedRange<Int64> =
    Timestamp(year: 1, month: 1, day: 1)!.seconds...Timestamp(year: 9999, month: 12, day: 31, hour: 23, minute: 59, second: 59)!.seconds

  public init?(year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0) {
    guard (1...9999).contains(year), (1...12).contains(month),
      (1...Self.daysIn(month: month, year: year)).contains(day),
      (0...23).contains(hour), (0...59).contains(minute), (0...59).contains(second)
    else { return nil }
    let days = Self.days(fromCivil: Int64(year), Int64(month), Int64(day))
    self.seconds = days * 86_400 + Int64(hour * 3600 + minute * 60 + second)
  }

  static func daysIn(month: Int, year: Int) -> Int {
    switch month {
    case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
    case 4, 6, 9, 11: return 30
    default: return 31
    }
  }

  // Howard Hinnant's days_from_civil / civil_from_days.
  static func days(fromCivil y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
    let y = m <= 2 ? y0 - 1 : y0
    let era = floorDiv(y, 400)
    let yoe = y - era * 400
    let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    return era * 146_097 + doe - 719_468
  }

  static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
    let z = z0 + 719_468
    let era = floorDiv(z, 146_097)
    let doe = z - era * 146_097
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let d = doy - (153 * mp + 2) / 5 + 1
    let m = mp < 10 ? mp + 3 : mp - 9
    return (m <= 2 ? yoe + era * 400 + 1 : yoe + era * 400, m, d)
  }

  static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
    a >= 0 ? a / b : -((-a + b - 1) / b)
  }

  private static func pad(_ out: inout String, _ value: Int64, _ width: Int) {
    let digits = String(value)
    if digits.count < width { out += String(repeating: "0", count: width - digits.count) }
    out += digits
  }
}
