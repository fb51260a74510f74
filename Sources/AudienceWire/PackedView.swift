public import AudienceCore
internal import CAudienceProto
public import NIOCore

/// A profile's view packed once by protobuf-c, kept by the server under the view's
/// `ProfileStamp` and copied into GetUser and QueryCohort responses without re-encoding.
///
/// `record` is the packed `audience.v1.Record` with the latest record's cookie as field 1, which
/// protobuf-c writes first: a QueryCohort page copies it whole, GetUser writes the cookie asked
/// for in front of the other fields (`recordAfterCookie`), which gives exactly the bytes
/// protobuf-c packs for that record. One array, so a copy costs one reference count.
public struct PackedView: Sendable {
  /// `audience.v1.Record`, then `audience.v1.ProfileSummary` (one allocation).
  private let packed: [UInt8]
  private let recordCount: Int
  /// UTF-8 bytes of the latest record's cookie.
  private let cookieCount: Int
  /// Bytes of the record's field 1 (key, length, cookie); 0 without a cookie.
  private var cookieFieldCount: Int { cookieCount == 0 ? 0 : ProtoSizes.field(cookieCount) }

  /// Packs a view.
  /// - Parameters:
  ///   - view: the profile's view and summary.
  public init(_ view: StampedView) {
    let arena = Arena()
    let r = ProtoRecord.encode(view.data, arena)
    let s = ProtoProfile.encode(view.summary, arena)
    let (recordSize, summarySize) = (audience__v1__record__get_packed_size(r), audience__v1__profile_summary__get_packed_size(s))
    packed = withExtendedLifetime(arena) {
      [UInt8](unsafeUninitializedCapacity: recordSize + summarySize) { out, count in
        count = audience__v1__record__pack(r, out.baseAddress!)
        count += audience__v1__profile_summary__pack(s, out.baseAddress! + count)
      }
    }
    recordCount = recordSize
    cookieCount = view.data.cookie.utf8.count
  }

  /// `audience.v1.Record`, `data.cookie` the latest record's.
  var record: ArraySlice<UInt8> { packed[..<recordCount] }
  /// The size of `record`.
  public var recordBytes: Int { recordCount }

  /// Calls `body` with `record`'s bytes, borrowed (no reference counted).
  @inline(__always)
  public func withRecord<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
    packed.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[..<recordCount])) }
  }
  /// `audience.v1.Record` without field 1.
  var recordAfterCookie: ArraySlice<UInt8> { packed[cookieFieldCount..<recordCount] }
  /// `audience.v1.ProfileSummary`.
  var summary: ArraySlice<UInt8> { packed[recordCount...] }

  /// Bytes held, for cache accounting.
  public var bytes: Int { packed.count }
}

extension WireCodec {
  /// Appends a GetUser response frame built from a packed view: the same bytes as
  /// `encode(_:into:)` of the response with that view and summary.
  /// - Parameters:
  ///   - id: the request's id.
  ///   - cookie: the cookie asked for (`data.cookie`).
  ///   - view: the profile's packed view.
  ///   - buffer: where to write.
  public static func encodeGetUser(id: UInt64, cookie: String, view: PackedView, into buffer: inout ByteBuffer) {
    var cookie = cookie
    cookie.withUTF8 { c in
      let record = ProtoSizes.record(cookie: c.count, rest: view.recordAfterCookie.count)
      let body = ProtoSizes.field(record) + ProtoSizes.field(view.summary.count)
      let payload = ProtoSizes.response(id: id, body: body)
      buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 4 + payload) { out in
        var w = ProtoOut(out)
        w.frameLength(payload)
        w.responseStart(id: id, body: 12, size: body)  // Response.get_user
        w.tag(1, size: record)  // GetUserResponse.data
        w.record(cookie: c, rest: view.recordAfterCookie)
        w.tag(2, size: view.summary.count)  // GetUserResponse.profile
        w.bytes(view.summary)
        return w.at
      }
    }
  }

  /// Appends a QueryCohort response frame built from packed views: the same bytes as
  /// `encode(_:into:)` of the page with those users.
  /// Appends a QueryCohort response frame built from packed views, each user showing its
  /// latest record's cookie: the same bytes as `encode(_:into:)` of that page.
  /// - Parameters:
  ///   - id: the request's id.
  ///   - total: every match.
  ///   - users: this page's users' packed views.
  ///   - nextCursor: where the next page starts; nil on the last page.
  ///   - buffer: where to write.
  public static func encodeCohortPage(
    id: UInt64, total: Int, users: [PackedView], nextCursor: String?, into buffer: inout ByteBuffer
  ) {
    _ = encodeCohortPage(
      id: id, total: total, count: users.count, nextCursor: nextCursor, into: &buffer, recordBytes: { users[$0].recordBytes },
      withRecord: { k, body in users[k].withRecord(body) })
  }

  /// `encodeCohortPage(id:total:users:nextCursor:into:)` with the users' packed records lent one
  /// at a time (for views read in place, under a lock, without copying them out).
  /// - Parameters:
  ///   - id: the request's id.
  ///   - total: every match.
  ///   - count: this page's users.
  ///   - nextCursor: where the next page starts; nil on the last page.
  ///   - buffer: where to write.
  ///   - recordBytes: the size of the k-th user's packed record (`PackedView.recordBytes`); nil
  ///     when there is none, and then nothing is written.
  ///   - withRecord: calls its body with the k-th user's packed record (`PackedView.withRecord`).
  /// - Returns: false when `recordBytes` had no record for a user (nothing written).
  @inline(__always)
  public static func encodeCohortPage(
    id: UInt64, total: Int, count: Int, nextCursor: String?, into buffer: inout ByteBuffer,
    recordBytes: (Int) -> Int?, withRecord: (Int, (UnsafeBufferPointer<UInt8>) -> Void) -> Void
  ) -> Bool {
    var body = total == 0 ? 0 : 1 + ProtoSizes.varint(UInt64(total))
    for k in 0..<count {
      guard let size = recordBytes(k) else { return false }
      body += ProtoSizes.field(size)
    }
    let cursor = Array((nextCursor ?? "").utf8)
    if !cursor.isEmpty { body += ProtoSizes.field(cursor.count) }
    let payload = ProtoSizes.response(id: id, body: body)
    buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 4 + payload) { out in
      var w = ProtoOut(out)
      w.frameLength(payload)
      w.responseStart(id: id, body: 13, size: body)  // Response.query_cohort
      if total != 0 {
        w.key(1, wireType: 0)  // QueryCohortResponse.total
        w.varint(UInt64(total))
      }
      for k in 0..<count {
        withRecord(k) { record in
          w.tag(2, size: record.count)  // users
          w.bytes(record)
        }
      }
      if !cursor.isEmpty {
        w.tag(3, size: cursor.count)  // next_cursor
        cursor.withUnsafeBufferPointer { w.bytes($0) }
      }
      return w.at
    }
    return true
  }
}

/// Sizes in protobuf's wire format, for the few envelopes written around packed views.
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
private struct ProtoOut {
  let out: UnsafeMutableRawBufferPointer
  var at = 0

  init(_ out: UnsafeMutableRawBufferPointer) { self.out = out }

  /// The frame's 4-byte big-endian length.
  mutating func frameLength(_ payload: Int) {
    out.storeBytes(of: UInt32(payload).bigEndian, toByteOffset: at, as: UInt32.self)
    at += 4
  }

  mutating func varint(_ v: UInt64) {
    var v = v
    while v >= 0x80 {
      out[at] = UInt8(truncatingIfNeeded: v) | 0x80
      at += 1
      v >>= 7
    }
    out[at] = UInt8(v)
    at += 1
  }

  mutating func key(_ field: UInt64, wireType: UInt64) { varint(field << 3 | wireType) }

  /// The key and length of a length-delimited field.
  mutating func tag(_ field: UInt64, size: Int) {
    key(field, wireType: 2)
    varint(UInt64(size))
  }

  mutating func bytes(_ b: UnsafeBufferPointer<UInt8>) {
    guard let base = b.baseAddress else { return }
    (out.baseAddress! + at).copyMemory(from: base, byteCount: b.count)
    at += b.count
  }

  mutating func bytes(_ b: ArraySlice<UInt8>) { b.withUnsafeBufferPointer { bytes($0) } }

  /// `Response.id` (omitted when 0, as proto3 does) and the key and length of the body field.
  mutating func responseStart(id: UInt64, body field: UInt64, size: Int) {
    if id != 0 {
      key(1, wireType: 0)
      varint(id)
    }
    tag(field, size: size)
  }

  /// A Record's fields: the cookie as field 1, then the packed rest.
  mutating func record(cookie: UnsafeBufferPointer<UInt8>, rest: ArraySlice<UInt8>) {
    if !cookie.isEmpty {
      tag(1, size: cookie.count)
      bytes(cookie)
    }
    bytes(rest)
  }
}
