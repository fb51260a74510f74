#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The CSV parser's fast path (`CSVParser`): a plain line handed over from the chunk's bytes,
/// its commas found eight bytes at a time. Pure: no I/O.
extension CSVParser {
  /// A row that is a whole line of the chunk, without quotes or carriage returns except the one
  /// ending a CRLF line, and valid UTF-8, handed over from the chunk's bytes: no field copied,
  /// one pass over the line. The index after its line break; nil for any other line (the
  /// general path then reads it, and says what is wrong with it).
  mutating func wholeLine(_ bytes: UnsafeRawBufferPointer, from start: Int, _ rows: (borrowing CSVByteRow) -> Void) -> Int? {
    let rest = UnsafeRawBufferPointer(rebasing: bytes[start...])
    guard let base = rest.baseAddress, let found = memchr(base, 0x0A, rest.count) else { return nil }
    let lineBreak = UnsafeRawPointer(found) - base
    let text = base.assumingMemoryBound(to: UInt8.self)
    let length = lineBreak > 0 && text[lineBreak - 1] == 0x0D ? lineBreak - 1 : lineBreak
    guard length > 0, length <= maxFieldBytes else { return nil }
    // Reductions the compiler vectorizes: any quote or carriage return, any byte above ASCII,
    // the lowest byte (NUL).
    var special: UInt8 = 0
    var high: UInt8 = 0
    var low: UInt8 = 0xFF
    for k in 0..<length {
      let b = text[k]
      special |= (b == 0x22 ? 1 : 0) | (b == 0x0D ? 1 : 0)
      high |= b
      low = min(low, b)
    }
    guard special == 0 else { return nil }
    let fields = UnsafeBufferPointer(start: text, count: length)
    if high >= 0x80, !String(decoding: fields, as: UTF8.self).utf8.elementsEqual(fields) { return nil }
    if lineEnds.count <= length { lineEnds = [Int](repeating: 0, count: length + 1) }
    let whole = lineEnds.withUnsafeMutableBufferPointer { ends -> Bool in
      let count = Self.cut(text, length, at: ends.baseAddress!)
      // Past `maxFields` the general path refuses the row, as it does across chunks.
      guard count <= Self.maxFields else { return false }
      rows(CSVByteRow(line: rowLine, error: nil, hasNUL: low == 0, bytes: fields, ends: UnsafeBufferPointer(rebasing: ends[..<count]), gap: 1))
      return true
    }
    guard whole else { return nil }
    line += 1
    rowLine = line
    return start + lineBreak + 1
  }

  /// Writes where each field of a line ends (its comma, and the line's end) to `ends`; returns
  /// how many. Eight bytes at a time: a comma's byte becomes zero, and the zero bytes of a word
  /// are found exactly with carry-free arithmetic (each byte's high bit is set where it is 0).
  private static func cut(_ text: UnsafePointer<UInt8>, _ length: Int, at ends: UnsafeMutablePointer<Int>) -> Int {
    let low7: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
    var count = 0
    var k = 0
    while k + 8 <= length {
      let x = UInt64(littleEndian: UnsafeRawPointer(text + k).loadUnaligned(as: UInt64.self)) ^ 0x2C2C_2C2C_2C2C_2C2C
      var zeros = ~(((x & low7) &+ low7) | x | low7)
      while zeros != 0 {
        ends[count] = k + zeros.trailingZeroBitCount >> 3
        count += 1
        zeros &= zeros &- 1
      }
      k += 8
    }
    while k < length {
      if text[k] == 0x2C {
        ends[count] = k
        count += 1
      }
      k += 1
    }
    ends[count] = length
    return count + 1
  }
}
