/// Sizes in protobuf's wire format, for the frames written by hand: the envelopes around packed
/// views (`PackedView`) and the client's ingest batches (`IngestBatchWriter`).
enum ProtoSizes {
  static func varint(_ v: UInt64) -> Int {
    var n = 1
    var v = v >> 7
    while v != 0 { n += 1; v >>= 7 }
    return n
  }

  /// A length-delimited field with a one-byte key.
  static func field(_ length: Int) -> Int { 1 + varint(UInt64(length)) + length }

  /// A Record given its cookie's and other fields' sizes.
  static func record(cookie: Int, rest: Int) -> Int { (cookie == 0 ? 0 : field(cookie)) + rest }

  /// A Response with this id and a body field of this size.
  static func response(id: UInt64, body: Int) -> Int { (id == 0 ? 0 : 1 + varint(id)) + field(body) }
}

/// Protobuf's wire format written into memory sized in advance by `ProtoSizes` (a frame).
struct ProtoOut {
  let out: UnsafeMutableRawBufferPointer
  var at = 0

  init(_ out: UnsafeMutableRawBufferPointer) { self.out = out }

  /// The frame's 4-byte big-endian length.
  mutating func frameLength(_ payload: Int) {
    out.storeBytes(of: UInt32(payload).bigEndian, toByteOffset: at, as: UInt32.self)
    at += 4
  }

  @inline(__always) mutating func varint(_ v: UInt64) {
    if v < 0x80 {  // keys and short lengths: nearly every varint
      out[at] = UInt8(truncatingIfNeeded: v)
      at += 1
      return
    }
    var v = v
    while v >= 0x80 {
      out[at] = UInt8(truncatingIfNeeded: v) | 0x80
      at += 1
      v >>= 7
    }
    out[at] = UInt8(v)
    at += 1
  }

  @inline(__always) mutating func key(_ field: UInt64, wireType: UInt64) { varint(field << 3 | wireType) }

  /// The key and length of a length-delimited field.
  @inline(__always) mutating func tag(_ field: UInt64, size: Int) {
    key(field, wireType: 2)
    varint(UInt64(size))
  }

  @inline(__always) mutating func bytes(_ b: UnsafeBufferPointer<UInt8>) {
    guard let base = b.baseAddress else { return }
    (out.baseAddress! + at).copyMemory(from: base, byteCount: b.count)
    at += b.count
  }

  /// `Response.id` (omitted when 0, as proto3 does) and the key and length of the body field.
  mutating func responseStart(id: UInt64, body field: UInt64, size: Int) {
    if id != 0 {
      key(1, wireType: 0)
      varint(id)
    }
    tag(field, size: size)
  }

  /// A Record's fields: the cookie as field 1, then the packed rest.
  mutating func record(cookie: UnsafeBufferPointer<UInt8>, rest: UnsafeBufferPointer<UInt8>) {
    if !cookie.isEmpty {
      tag(1, size: cookie.count)
      bytes(cookie)
    }
    bytes(rest)
  }
}
