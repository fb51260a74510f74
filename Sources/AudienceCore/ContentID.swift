/// A stable 128-bit identity of a record's content, used to make ingestion idempotent:
/// the same record sent twice (or a file loaded twice) is stored once.
///
/// FNV-1a over a length-prefixed canonical encoding of the normalized fields. It is not
/// a cryptographic hash: a party able to choose records could make two records collide,
/// which would drop the second as a duplicate.
public struct ContentID: Hashable, Sendable, CustomStringConvertible {
  public var high: UInt64
  public var low: UInt64

  /// - Parameters:
  ///   - high: the upper 64 bits.
  ///   - low: the lower 64 bits.
  public init(high: UInt64, low: UInt64) {
    self.high = high
    self.low = low
  }

  /// The identity of a normalized record (with `createdAt` as sent, possibly absent).
  /// - Parameters:
  ///   - record: the normalized record.
  public init(of record: Record) {
    var h = FNV128()
    h.add(record.cookie)
    h.add(record.email)
    h.add(record.phoneNumber)
    h.add(record.createdAt.map { String($0.seconds) })
    h.add(record.location.state)
    h.add(record.location.country)
    h.add(record.location.city)
    h.add(record.demographics.age.map { String($0) })
    h.add(record.demographics.gender)
    h.add(record.demographics.income)
    h.add(record.demographics.education)
    h.add(String(record.interests.count))
    for interest in record.interests { h.add(interest) }
    self.init(high: UInt64(truncatingIfNeeded: h.state >> 64), low: UInt64(truncatingIfNeeded: h.state))
  }

  /// 32 hex digits.
  public var description: String {
    func pad(_ n: UInt64) -> String {
      let h = String(n, radix: 16)
      return String(repeating: "0", count: 16 - h.count) + h
    }
    return pad(high) + pad(low)
  }

  /// Reads the 32 hex digits of `description`.
  /// - Parameters:
  ///   - hex: 32 hex digits.
  public init?(hex: String) {
    guard hex.utf8.count == 32, let high = UInt64(hex.prefix(16), radix: 16), let low = UInt64(hex.suffix(16), radix: 16)
    else { return nil }
    self.init(high: high, low: low)
  }
}

private struct FNV128 {
  static let prime: UInt128 = (1 << 88) + (1 << 8) + 0x3b
  var state: UInt128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d

  @inline(__always) mutating func byte(_ b: UInt8) {
    state ^= UInt128(b)
    // state * prime, the prime being 2^88 + 2^8 + 0x3b: two shifts and a small multiply.
    state = (state &<< 88) &+ (state &<< 8) &+ (state &* 0x3b)
  }

  /// Absent fields and empty strings hash differently; every field is length-prefixed.
  mutating func add(_ s: String?) {
    guard var s else { byte(0xFF); return }
    var n = s.utf8.count
    repeat { byte(UInt8(n & 0x7F)); n >>= 7 } while n > 0
    var h = self
    s.withUTF8 { utf8 in for b in utf8 { h.byte(b) } }
    self = h
  }
}
