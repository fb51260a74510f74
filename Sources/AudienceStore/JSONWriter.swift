import AudienceCore

/// JSON text written by hand into a byte buffer: the embedded database keeps the records, and
/// their interests, as JSON that `sqlite3` and pandas read. Each value is written through a
/// pointer into room made for it (an `Array` append per byte checks its capacity each time).
struct JSONWriter {
  /// The text is `buffer[..<count]`; the rest is room (zeros).
  private var buffer: [UInt8]
  private(set) var count = 0
  /// For a time's digits (`Timestamp` writes them into an array).
  private var scratch: [UInt8] = []

  init(capacity: Int = 64) { buffer = [UInt8](repeating: 0, count: max(capacity, 64)) }

  /// The text written; the writer is left empty.
  mutating func take() -> [UInt8] {
    var text: [UInt8] = []
    swap(&text, &buffer)
    text.removeSubrange(count...)
    count = 0
    return text
  }

  /// Makes room for `n` more bytes.
  private mutating func room(_ n: Int) {
    guard count + n > buffer.count else { return }
    buffer.append(contentsOf: repeatElement(0, count: max(buffer.count, count + n - buffer.count)))
  }

  /// Calls `write` with the buffer's room for at most `n` bytes; it returns how many it wrote.
  private mutating func write(atMost n: Int, _ write: (UnsafeMutablePointer<UInt8>) -> Int) {
    room(n)
    let start = count
    count += buffer.withUnsafeMutableBufferPointer { write($0.baseAddress! + start) }
  }

  mutating func byte(_ b: UInt8) {
    write(atMost: 1) { out in
      out[0] = b
      return 1
    }
  }

  /// Two punctuation bytes, such as `,"`.
  mutating func bytes(_ a: UInt8, _ b: UInt8) {
    write(atMost: 2) { out in
      out[0] = a
      out[1] = b
      return 2
    }
  }

  mutating func bytes(_ b: UnsafeBufferPointer<UInt8>) {
    guard let base = b.baseAddress, !b.isEmpty else { return }
    write(atMost: b.count) { out in
      out.update(from: base, count: b.count)
      return b.count
    }
  }

  /// `utf8` as a JSON string, quotes included: `"`, `\` and control characters are escaped,
  /// everything else (UTF-8 included) is copied as it is.
  mutating func string(_ utf8: UnsafeBufferPointer<UInt8>) {
    write(atMost: utf8.count * 6 + 2) { out in
      var i = 0
      out[i] = 0x22  // "
      i += 1
      // Eight bytes at a time while none needs escaping (the usual case), then byte by byte.
      var next = 0
      if let base = utf8.baseAddress {
        while next + 8 <= utf8.count {
          let w = UnsafeRawPointer(base + next).loadUnaligned(as: UInt64.self)
          guard !ByteWords.hasControl(w), !ByteWords.has(0x22, in: w), !ByteWords.has(0x5C, in: w) else { break }
          UnsafeMutableRawPointer(out + i).storeBytes(of: w, as: UInt64.self)
          i += 8
          next += 8
        }
      }
      for b in UnsafeBufferPointer(rebasing: utf8[next...]) {
        if b >= 0x20 && b != 0x22 && b != 0x5C {
          out[i] = b
          i += 1
          continue
        }
        out[i] = 0x5C  // \
        switch b {
        case 0x22, 0x5C: out[i + 1] = b
        case 0x0A: out[i + 1] = 0x6E  // n
        case 0x09: out[i + 1] = 0x74  // t
        case 0x0D: out[i + 1] = 0x72  // r
        default:  // u00XX
          out[i + 1] = 0x75
          out[i + 2] = 0x30
          out[i + 3] = 0x30
          out[i + 4] = Self.hexDigit(b >> 4)
          out[i + 5] = Self.hexDigit(b & 0xF)
          i += 4
        }
        i += 2
      }
      out[i] = 0x22
      return i + 1
    }
  }

  /// `value` as a JSON string, or `null`.
  mutating func string(_ value: String?) {
    guard value != nil else { return null() }
    // Read in place through the optional (binding the string would retain it).
    value?.withUTF8InPlace { string($0) }
  }

  /// `value` as a JSON string or `null`, then the comma before the next element of an array.
  mutating func element(_ value: String?) {
    string(value)
    byte(0x2C)  // ,
  }

  mutating func null() {
    write(atMost: 4) { out in
      out[0] = 0x6E  // n
      out[1] = 0x75  // u
      out[2] = 0x6C  // l
      out[3] = 0x6C  // l
      return 4
    }
  }

  /// The decimal digits of `value` (a JSON number).
  mutating func decimal(_ value: Int64) {
    write(atMost: 20) { out in Self.decimal(value, into: out) }
  }

  /// 16 lowercase hex digits of `value`.
  mutating func hex(_ value: UInt64) {
    write(atMost: 16) { out in
      var v = value
      for k in stride(from: 15, through: 0, by: -1) {
        out[k] = Self.hexDigit(UInt8(truncatingIfNeeded: v) & 0xF)
        v >>= 4
      }
      return 16
    }
  }

  /// `YYYY-MM-DDTHH:MM:SS`, without quotes.
  mutating func time(_ t: Timestamp) {
    scratch.removeAll(keepingCapacity: true)
    t.appendISO8601(to: &scratch)
    scratch.withUnsafeBufferPointer { bytes($0) }
  }

  /// A JSON array of strings: `["Tech","Gaming"]`.
  mutating func stringList(_ values: [String]) {
    byte(0x5B)  // [
    values.forEachInPlace { i, value in
      if i > 0 { byte(0x2C) }  // ,
      value.withUTF8InPlace { string($0) }
    }
    byte(0x5D)  // ]
  }

  /// Appends the decimal digits of `value` to an array.
  static func appendDecimal(_ value: Int64, to out: inout [UInt8]) {
    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { d in
      let n = decimal(value, into: d.baseAddress!)
      out.append(contentsOf: UnsafeBufferPointer(start: d.baseAddress, count: n))
    }
  }

  /// Writes the digits of `value` (a `-` first when negative; at most 20 bytes); returns how many.
  private static func decimal(_ value: Int64, into out: UnsafeMutablePointer<UInt8>) -> Int {
    var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
    return withUnsafeMutableBytes(of: &digits) { d in
      var v = value.magnitude
      var at = d.count
      repeat {
        at -= 1
        d[at] = 0x30 + UInt8(v % 10)
        v /= 10
      } while v > 0
      if value < 0 {
        at -= 1
        d[at] = 0x2D  // -
      }
      let n = d.count - at
      for k in 0..<n { out[k] = d[at + k] }
      return n
    }
  }

  private static func hexDigit(_ nibble: UInt8) -> UInt8 { nibble < 10 ? 0x30 + nibble : 0x57 + nibble }
}
