public import AudienceCore
internal import CAudienceProto
internal import CGather
public import NIOCore

/// A profile's view packed once by protobuf-c, kept by the server under the view's
/// `ProfileStamp` and copied into GetUser and QueryCohort responses without re-encoding.
///
/// `record` is the packed `audience.v1.Record` with the latest record's cookie as field 1, which
/// protobuf-c writes first: a QueryCohort page copies it whole, GetUser writes the cookie asked
/// for in front of the other fields (`recordAfterCookie`), which gives exactly the bytes
/// protobuf-c packs for that record. One allocation, owned by one object (a copy counts one
/// reference), and its address is kept in the view itself, so a page gathering thousands of
/// views finds their bytes without reading the objects first.
public struct PackedView: @unchecked Sendable {  // immutable; `base` lives as long as `owner`
  /// Owns `audience.v1.Record`, then `audience.v1.ProfileSummary`.
  private final class Owner {
    let bytes: UnsafeMutablePointer<UInt8>
    init(count: Int) { bytes = .allocate(capacity: Swift.max(1, count)) }
    deinit { bytes.deallocate() }
  }

  private let owner: Owner
  private let base: UnsafePointer<UInt8>
  private let count: UInt32
  private let recordCount: UInt32
  /// UTF-8 bytes of the latest record's cookie.
  private let cookieCount: UInt32
  /// Bytes of the record's field 1 (key, length, cookie); 0 without a cookie.
  private var cookieFieldCount: Int { cookieCount == 0 ? 0 : ProtoSizes.field(Int(cookieCount)) }

  /// Packs a view.
  /// - Parameters:
  ///   - view: the profile's view and summary.
  public init(_ view: StampedView) {
    let arena = Arena()
    let r = ProtoRecord.encode(view.data, arena)
    let s = ProtoProfile.encode(view.summary, arena)
    let (recordSize, summarySize) = (audience__v1__record__get_packed_size(r), audience__v1__profile_summary__get_packed_size(s))
    let owner = Owner(count: recordSize + summarySize)
    withExtendedLifetime(arena) {
      let written = audience__v1__record__pack(r, owner.bytes)
      precondition(written == recordSize && audience__v1__profile_summary__pack(s, owner.bytes + written) == summarySize)
    }
    self.owner = owner
    base = UnsafePointer(owner.bytes)
    count = UInt32(recordSize + summarySize)
    recordCount = UInt32(recordSize)
    cookieCount = UInt32(view.data.cookie.utf8.count)
  }

  /// The size of `record`.
  public var recordBytes: Int { Int(recordCount) }

  /// Where `record` starts: valid while this view, or a copy of it, is alive (a cache holding
  /// it, under the cache's lock).
  public var recordStart: UnsafePointer<UInt8> { base }

  /// Calls `body` with `audience.v1.Record` without field 1, and `audience.v1.ProfileSummary`.
  @inline(__always)
  func withRecordAfterCookieAndSummary<R>(_ body: (UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>) -> R) -> R {
    withExtendedLifetime(owner) {
      body(
        UnsafeBufferPointer(start: base + cookieFieldCount, count: Int(recordCount) - cookieFieldCount),
        UnsafeBufferPointer(start: base + Int(recordCount), count: Int(count - recordCount)))
    }
  }

  /// Bytes held, for cache accounting.
  public var bytes: Int { Int(count) }

  /// `WireCodec.encodeGetUser(id:cookie:view:into:)` of this view: called on a view borrowed
  /// where it is kept, it writes without counting a reference to it.
  /// - Parameters:
  ///   - id: the request's id.
  ///   - cookie: the cookie asked for (`data.cookie`).
  ///   - buffer: where to write.
  public func writeGetUser(id: UInt64, cookie: String, into buffer: inout ByteBuffer) {
    var cookie = cookie
    cookie.withUTF8 { c in
      withRecordAfterCookieAndSummary { rest, summary in
        let record = ProtoSizes.record(cookie: c.count, rest: rest.count)
        let body = ProtoSizes.field(record) + ProtoSizes.field(summary.count)
        let payload = ProtoSizes.response(id: id, body: body)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 4 + payload) { out in
          var w = ProtoOut(out)
          w.frameLength(payload)
          w.responseStart(id: id, body: 12, size: body)  // Response.get_user
          w.tag(1, size: record)  // GetUserResponse.data
          w.record(cookie: c, rest: rest)
          w.tag(2, size: summary.count)  // GetUserResponse.profile
          w.bytes(summary)
          return w.at
        }
      }
    }
  }
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
    view.writeGetUser(id: id, cookie: cookie, into: &buffer)
  }

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
    let records = users.map { Optional($0.recordStart) }
    let lengths = users.map { UInt32($0.recordBytes) }
    withExtendedLifetime(users) {
      records.withUnsafeBufferPointer { r in
        lengths.withUnsafeBufferPointer { l in
          encodeCohortPage(id: id, total: total, records: r, lengths: l, nextCursor: nextCursor, into: &buffer)
        }
      }
    }
  }

  /// `encodeCohortPage(id:total:users:nextCursor:into:)` from where each user's packed record is
  /// (`PackedView.recordStart`, `recordBytes`), for views read in place under a lock: the
  /// records are copied in one pass that fetches them some ahead (`CGather`).
  /// - Parameters:
  ///   - id: the request's id.
  ///   - total: every match.
  ///   - records: where each user's packed record starts; alive for the call.
  ///   - lengths: each record's size.
  ///   - nextCursor: where the next page starts; nil on the last page.
  ///   - buffer: where to write.
  public static func encodeCohortPage(
    id: UInt64, total: Int, records: UnsafeBufferPointer<UnsafePointer<UInt8>?>, lengths: UnsafeBufferPointer<UInt32>,
    nextCursor: String?, into buffer: inout ByteBuffer
  ) {
    precondition(records.count == lengths.count)
    var body = total == 0 ? 0 : 1 + ProtoSizes.varint(UInt64(total))
    for length in lengths { body += ProtoSizes.field(Int(length)) }
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
      if let first = records.baseAddress, let sizes = lengths.baseAddress {
        w.at += audience_gather_fields(  // QueryCohortResponse.users
          out.baseAddress!.assumingMemoryBound(to: UInt8.self) + w.at, 2, first, sizes, records.count)
      }
      if !cursor.isEmpty {
        w.tag(3, size: cursor.count)  // next_cursor
        cursor.withUnsafeBufferPointer { w.bytes($0) }
      }
      return w.at
    }
  }
}
