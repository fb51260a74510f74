import AudienceCore

/// JSON text written by hand into byte buffers: the embedded database keeps interests, and the
/// records themselves, as JSON that `sqlite3` and pandas read.
enum JSONText {
  /// Appends `utf8` as a JSON string, quotes included: `"`, `\` and control characters are
  /// escaped, everything else (UTF-8 included) is copied as it is.
  static func appendString(_ utf8: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
    out.append(0x22)  // "
    // Most values need no escape: copy them whole.
    if !utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) {
      out.append(contentsOf: utf8)
    } else {
      for b in utf8 {
        switch b {
        case 0x22: out.append(contentsOf: [0x5C, 0x22])  // \"
        case 0x5C: out.append(contentsOf: [0x5C, 0x5C])  // \\
        case 0x0A: out.append(contentsOf: [0x5C, 0x6E])  // \n
        case 0x09: out.append(contentsOf: [0x5C, 0x74])  // \t
        case 0x0D: out.append(contentsOf: [0x5C, 0x72])  // \r
        case ..<0x20: out.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, hexDigit(b >> 4), hexDigit(b & 0xF)])  // \u00XX
        default: out.append(b)
        }
      }
    }
    out.append(0x22)
  }

  /// Appends `value` as a JSON string, or `null`.
  static func appendString(_ value: String?, to out: inout [UInt8]) {
    guard value != nil else { return appendNull(to: &out) }
    // Read in place through the optional (binding the string would retain it).
    value?.withUTF8InPlace { appendString($0, to: &out) }
  }

  static func appendNull(to out: inout [UInt8]) {
    out.append(0x6E)  // n
    out.append(0x75)  // u
    out.append(0x6C)  // l
    out.append(0x6C)  // l
  }

  /// Appends the decimal digits of `value` (a JSON number).
  static func appendDecimal(_ value: Int64, to out: inout [UInt8]) {
    if value < 0 { out.append(0x2D) }
    var v = value.magnitude
    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { d in
      var n = 20
      repeat {
        n -= 1
        d[n] = 0x30 + UInt8(v % 10)
        v /= 10
      } while v > 0
      out.append(contentsOf: UnsafeBufferPointer(rebasing: d[n...]))
    }
  }

  /// Appends 16 lowercase hex digits of `value`.
  static func appendHex(_ value: UInt64, to out: inout [UInt8]) {
    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 16) { d in
      var v = value
      for k in stride(from: 15, through: 0, by: -1) {
        d[k] = hexDigit(UInt8(truncatingIfNeeded: v) & 0xF)
        v >>= 4
      }
      out.append(contentsOf: UnsafeBufferPointer(d))
    }
  }

  private static func hexDigit(_ nibble: UInt8) -> UInt8 { nibble < 10 ? 0x30 + nibble : 0x57 + nibble }
}
