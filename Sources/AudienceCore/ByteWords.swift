/// Tests of eight bytes at a time, in a word (SWAR): exact for "does any byte ...", which is all
/// the scans that use them ask before going byte by byte.
public enum ByteWords {
  /// Whether a byte of `x` is below 0x20 (a C0 control character; bytes of 0x80 and above,
  /// UTF-8, are not). `(x - 0x20..) & ~x & 0x80..` sets the high bit of the first such byte.
  @inlinable @inline(__always) public static func hasControl(_ x: UInt64) -> Bool {
    (x &- 0x2020_2020_2020_2020) & ~x & 0x8080_8080_8080_8080 != 0
  }

  /// Whether a byte of `x` is `b`: such a byte is zero in `x ^ b..`, found as above.
  @inlinable @inline(__always) public static func has(_ b: UInt8, in x: UInt64) -> Bool {
    let y = x ^ (0x0101_0101_0101_0101 &* UInt64(b))
    return (y &- 0x0101_0101_0101_0101) & ~y & 0x8080_8080_8080_8080 != 0
  }
}
