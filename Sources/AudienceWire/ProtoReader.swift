import AudienceCore

/// A bounds-checked cursor over protobuf wire-format bytes, for the one message read without
/// protobuf-c (`LazyCohortPage`, whose tests check it against protobuf-c). Every read throws on
/// bytes that are not protobuf, never reads outside `at..<end`.
struct ProtoReader {
  static let varint: UInt8 = 0, fixed64: UInt8 = 1, lengthDelimited: UInt8 = 2, fixed32: UInt8 = 5

  let base: UnsafePointer<UInt8>
  var at: Int
  let end: Int

  init(_ base: UnsafePointer<UInt8>, _ range: Range<Int>) {
    self.base = base
    at = range.lowerBound
    end = range.upperBound
  }

  var atEnd: Bool { at >= end }

  /// A varint of at most 10 bytes.
  @inline(__always)
  mutating func varint() throws(AudienceError) -> UInt64 {
    if at < end, base[at] < 0x80 {  // most keys and lengths: one byte
      defer { at += 1 }
      return UInt64(base[at])
    }
    return try longVarint()
  }

  private mutating func longVarint() throws(AudienceError) -> UInt64 {
    var value: UInt64 = 0
    var shift: UInt64 = 0
    while at < end {
      let b = base[at]
      at += 1
      value |= UInt64(b & 0x7F) << shift
      if b < 0x80 { return value }
      shift += 7
      guard shift < 70 else { throw malformed("a varint longer than 10 bytes") }
    }
    throw malformed("a truncated varint")
  }

  /// A varint field's value, or nil when the field was sent with another wire type.
  mutating func varint(ifWireType wire: UInt8) throws(AudienceError) -> UInt64? {
    wire == Self.varint ? try varint() : nil
  }

  /// A field's key: its number and wire type, as protobuf-c 1.4 reads them: at most 5 bytes, a
  /// one-byte key of field 0 refused, any other number (0 or past 2^29 in a longer key) taken
  /// as an unknown field.
  @inline(__always)
  mutating func key() throws(AudienceError) -> (field: UInt64, wireType: UInt8) {
    guard at < end, base[at] >= 8 else { throw malformed(at < end ? "field number 0" : "a truncated key") }
    let start = at
    let k = try varint()
    guard at - start <= 5 else { throw malformed("a field key longer than 5 bytes") }
    return (UInt64(UInt32(truncatingIfNeeded: k >> 3)), UInt8(k & 7))
  }

  /// A length-delimited value's bytes (positions in `base`); its length in at most 5 bytes, as
  /// protobuf-c reads it.
  @inline(__always)
  mutating func lengthDelimited() throws(AudienceError) -> Range<Int> {
    let start = at
    let n = try varint()
    guard at - start <= 5 else { throw malformed("a length longer than 5 bytes") }
    guard n <= UInt64(end - at) else { throw malformed("a length of \(n) past the end") }
    defer { at += Int(n) }
    return at..<(at + Int(n))
  }

  /// Steps over a length-delimited value (as `lengthDelimited`, without making its range).
  @inline(__always)
  mutating func skipLengthDelimited() throws(AudienceError) {
    if at < end, base[at] < 0x80 {  // most lengths: one byte
      let n = Int(base[at])
      at += 1
      guard n <= end - at else { throw malformed("a length of \(n) past the end") }
      at += n
      return
    }
    _ = try lengthDelimited()
  }

  /// Steps over a value of this wire type (groups are refused, as protobuf-c refuses them).
  mutating func skip(_ wireType: UInt8) throws(AudienceError) {
    switch wireType {
    case Self.varint: _ = try varint()
    case Self.lengthDelimited: try skipLengthDelimited()
    case Self.fixed64, Self.fixed32:
      let n = wireType == Self.fixed64 ? 8 : 4
      guard end - at >= n else { throw malformed("a truncated fixed-size value") }
      at += n
    default: throw malformed("wire type \(wireType)")
    }
  }

  /// Checks a known field's wire type.
  func expect(_ wireType: UInt8, _ actual: UInt8, _ field: @autoclosure () -> String) throws(AudienceError) {
    guard wireType == actual else { throw malformed("\(field()) with wire type \(actual)") }
  }

  func malformed(_ what: String) -> AudienceError {
    AudienceError(.internal, "server sent a QueryCohort page that is not valid protobuf: \(what) at byte \(at)")
  }
}
