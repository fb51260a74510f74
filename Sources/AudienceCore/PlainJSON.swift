/// A reader of plain JSON straight from its bytes: strings without escapes, null, integers in
/// digits, punctuation, whitespace between. Every method says false (or nil) at the first byte it
/// does not take, leaving the rest to a full parser (`JSONValue(parsing:)`, `RecordJSON.record(from:)`).
/// `RecordJSON.read` reads JSON lines with it; the embedded store, its rows of records.
public struct PlainJSON {
  public typealias Bytes = UnsafeBufferPointer<UInt8>
  let b: Bytes
  var at = 0

  public init(_ b: Bytes) { self.b = b }

  /// The next byte after whitespace, not taken; nil at the end.
  public mutating func next() -> UInt8? {
    while at < b.count, b[at] == 0x20 || b[at] == 0x0A || b[at] == 0x0D || b[at] == 0x09 { at += 1 }
    return at < b.count ? b[at] : nil
  }

  public mutating func take(_ c: Unicode.Scalar) -> Bool {
    guard next() == UInt8(ascii: c) else { return false }
    at += 1
    return true
  }

  /// A string without an escape or a control character.
  public mutating func string() -> Bytes? {
    guard take("\"") else { return nil }
    let start = at
    while at < b.count {
      let c = b[at]
      if c == UInt8(ascii: "\"") {
        at += 1
        return Bytes(rebasing: b[start..<(at - 1)])
      }
      if c == UInt8(ascii: "\\") || c < 0x20 { return nil }
      at += 1
    }
    return nil
  }

  public mutating func null() -> Bool {
    guard next() == UInt8(ascii: "n"), at + 4 <= b.count, b[at + 1] == UInt8(ascii: "u"), b[at + 2] == UInt8(ascii: "l"),
      b[at + 3] == UInt8(ascii: "l")
    else { return false }
    at += 4
    return true
  }

  /// An integer in decimal digits, a minus sign at most before them (no leading zero, fraction or
  /// exponent), that fits in an `Int64`.
  public mutating func integer() -> Int64? {
    _ = next()
    let negative = at < b.count && b[at] == UInt8(ascii: "-")
    if negative { at += 1 }
    let start = at
    guard start < b.count, b[start] >= 0x30, b[start] <= 0x39 else { return nil }
    let first = b[start]
    var v: Int64 = 0
    while at < b.count, b[at] >= 0x30, b[at] <= 0x39 {
      let (m, o1) = v.multipliedReportingOverflow(by: 10)
      let (sum, o2) = m.addingReportingOverflow(Int64(b[at] - 0x30))
      guard !o1, !o2 else { return nil }
      v = sum
      at += 1
    }
    guard !(first == 0x30 && at - start > 1), at == b.count || (b[at] != UInt8(ascii: ".") && b[at] | 0x20 != UInt8(ascii: "e"))
    else { return nil }
    return negative ? -v : v
  }
}
