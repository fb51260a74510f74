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
  public init(of record: borrowing Record) {
    var h = FNV128()
    h.add(record.cookie)
    h.add(record.email)
    h.add(record.phoneNumber)
    h.add(decimal: record.createdAt.map(\.seconds))
    h.add(record.location.state)
    h.add(record.location.country)
    h.add(record.location.city)
    h.add(decimal: record.demographics.age.map(Int64.init))
    h.add(record.demographics.gender)
    h.add(record.demographics.income)
    h.add(record.demographics.education)
    h.add(decimal: Int64(record.interests.count))
    for interest in record.interests { h.add(interest) }
    self.init(high: h.high, low: h.low)
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
  // The offset basis 0x6c62272e07bb014262b821756295c58d, in two halves.
  var high: UInt64 = 0x6c62_272e_07bb_0142
  var low: UInt64 = 0x62b8_2175_6295_c58d

  @inline(__always) mutating func byte(_ b: UInt8) {
    low ^= UInt64(b)
    // state * prime mod 2^128, the prime being 2^88 + 0x13b: the low half times 0x13b (128 bits),
    // the high half times 0x13b, and the low half shifted up 88 (into the high half only).
    let (carry, product) = low.multipliedFullWidth(by: 0x13b)
    high = high &* 0x13b &+ carry &+ (low &<< 24)
    low = product
  }

  /// Absent fields and empty strings hash differently; every field is length-prefixed.
  mutating func add(_ s: String?) {
    guard s != nil else { byte(0xFF); return }
    var h = self
    // Read in place through the optional: binding the string would retain and release it.
    s?.withUTF8InPlace { utf8 in
      var n = utf8.count
      repeat { h.byte(UInt8(n & 0x7F)); n >>= 7 } while n > 0
      for b in utf8 { h.byte(b) }
    }
    self = h
  }

  /// As `add(String(n))`, without making the string: its decimal digits (a "-" first when
  /// negative), length-prefixed.
  mutating func add(decimal n: Int64?) {
    guard let n else { byte(0xFF); return }
    var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 20 digits and a sign fit in 24 bytes
    withUnsafeMutableBytes(of: &digits) { buffer in
      var magnitude = n.magnitude
      var at = buffer.count
      repeat {
        at -= 1
        buffer[at] = UInt8(truncatingIfNeeded: 0x30 + magnitude % 10)
        magnitude /= 10
      } while magnitude > 0
      if n < 0 {
        at -= 1
        buffer[at] = 0x2D
      }
      byte(UInt8(buffer.count - at))
      for i in at..<buffer.count { byte(buffer[i]) }
    }
  }
}
