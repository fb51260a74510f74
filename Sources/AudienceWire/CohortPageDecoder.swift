import AudienceCore

/// Decodes a QueryCohort response page straight from its wire bytes into Swift records, without
/// protobuf-c's C structs in between (a page of 10,000 users is most of what a client decodes).
///
/// It reads only the canonical form protobuf-c packs and the server writes: each field at most
/// once (but for repeated ones), known field numbers with their wire types, UTF-8 strings without
/// NUL bytes, no status. For anything else it returns nil and the caller decodes with protobuf-c,
/// so every response decodes exactly as protobuf-c decodes it (tested against it).
enum CohortPageDecoder {
  /// The response, or nil when the bytes are not a canonical QueryCohort page.
  static func decode(_ bytes: UnsafeRawBufferPointer) -> WireResponse? {
    var r = WireReader(bytes)
    var id: UInt64 = 0
    var page: CohortPage?
    var seen: UInt32 = 0
    while !r.atEnd {
      guard let (field, wire) = r.key(), r.once(field, &seen) else { return nil }
      switch (field, wire) {
      case (1, 0):
        guard let v = r.varint() else { return nil }
        id = v
      case (13, 2):  // query_cohort
        guard let body = r.lengthDelimited(), let p = cohortPage(body) else { return nil }
        page = p
      default:
        return nil
      }
    }
    guard let page else { return nil }
    return WireResponse(id: id, status: .ok, body: .queryCohort(page))
  }

  private static func cohortPage(_ bytes: UnsafeRawBufferPointer) -> CohortPage? {
    var r = WireReader(bytes)
    var total: UInt64 = 0
    var users: [Record] = []
    var cursor: String?
    var seen: UInt32 = 0
    while !r.atEnd {
      guard let (field, wire) = r.key() else { return nil }
      switch (field, wire) {
      case (1, 0):
        guard r.once(field, &seen), let v = r.varint() else { return nil }
        total = v
      case (2, 2):
        guard let body = r.lengthDelimited(), let user = record(body) else { return nil }
        users.append(user)
      case (3, 2):
        guard r.once(field, &seen), let s = r.string() else { return nil }
        cursor = s.isEmpty ? nil : s
      default:
        return nil
      }
    }
    guard total <= UInt64(Int.max) else { return nil }
    return CohortPage(total: Int(total), users: users, nextCursor: cursor)
  }

  /// A record as `ProtoRecord.decodeView` makes it: empty strings are absent.
  private static func record(_ bytes: UnsafeRawBufferPointer) -> Record? {
    var r = WireReader(bytes)
    var record = Record(cookie: "")
    var seen: UInt32 = 0
    while !r.atEnd {
      guard let (field, wire) = r.key(), wire == 2 else { return nil }
      if field != 7 { guard r.once(field, &seen) else { return nil } }
      switch field {
      case 1:
        guard let s = r.string() else { return nil }
        record.cookie = s
      case 2:
        guard let s = r.string() else { return nil }
        record.email = s.isEmpty ? nil : s
      case 3:
        guard let s = r.string() else { return nil }
        record.phoneNumber = s.isEmpty ? nil : s
      case 4:
        guard let b = r.lengthDelimited(), !b.contains(0), String(validating: b, as: UTF8.self) != nil else { return nil }
        record.createdAt = Timestamp(utf8: b.assumingMemoryBound(to: UInt8.self))
      case 5:
        guard let b = r.lengthDelimited(), let l = location(b) else { return nil }
        record.location = l
      case 6:
        guard let b = r.lengthDelimited(), let d = demographics(b) else { return nil }
        record.demographics = d
      case 7:
        guard let s = r.string() else { return nil }
        record.interests.append(s)
      default:
        return nil
      }
    }
    return record
  }

  private static func location(_ bytes: UnsafeRawBufferPointer) -> Location? {
    var r = WireReader(bytes)
    var l = Location()
    var seen: UInt32 = 0
    while !r.atEnd {
      guard let (field, wire) = r.key(), wire == 2, r.once(field, &seen), let s = r.string() else { return nil }
      switch field {
      case 1: l.state = s.isEmpty ? nil : s
      case 2: l.country = s.isEmpty ? nil : s
      case 3: l.city = s.isEmpty ? nil : s
      default: return nil
      }
    }
    return l
  }

  private static func demographics(_ bytes: UnsafeRawBufferPointer) -> Demographics? {
    var r = WireReader(bytes)
    var d = Demographics()
    var seen: UInt32 = 0
    while !r.atEnd {
      guard let (field, wire) = r.key(), r.once(field, &seen) else { return nil }
      switch (field, wire) {
      case (1, 0):
        guard let v = r.varint() else { return nil }
        d.age = Int(Int32(truncatingIfNeeded: v))
      case (2, 2), (3, 2), (4, 2):
        guard let s = r.string() else { return nil }
        let value = s.isEmpty ? nil : s
        if field == 2 { d.gender = value } else if field == 3 { d.income = value } else { d.education = value }
      default:
        return nil
      }
    }
    return d
  }
}

/// A cursor over protobuf wire bytes; every read returns nil past the end or on a malformed value.
private struct WireReader {
  let bytes: UnsafeRawBufferPointer
  var at = 0

  init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

  var atEnd: Bool { at >= bytes.count }

  mutating func varint() -> UInt64? {
    var v: UInt64 = 0
    var shift: UInt64 = 0
    while at < bytes.count, shift < 64 {
      let b = bytes[at]
      at += 1
      v |= UInt64(b & 0x7F) << shift
      if b < 0x80 { return v }
      shift += 7
    }
    return nil
  }

  /// A field's number (1...31 here) and wire type.
  mutating func key() -> (UInt64, UInt64)? {
    guard let k = varint(), k >> 3 >= 1, k >> 3 < 32 else { return nil }
    return (k >> 3, k & 7)
  }

  /// Whether a singular field appears for the first time (and notes that it did).
  func once(_ field: UInt64, _ seen: inout UInt32) -> Bool {
    let bit = UInt32(1) << UInt32(field)
    guard seen & bit == 0 else { return false }
    seen |= bit
    return true
  }

  mutating func lengthDelimited() -> UnsafeRawBufferPointer? {
    guard let n = varint(), n <= UInt64(bytes.count - at) else { return nil }
    defer { at += Int(n) }
    return UnsafeRawBufferPointer(rebasing: bytes[at..<(at + Int(n))])
  }

  /// A string field: UTF-8 without NUL bytes (protobuf-c's C strings would end at one).
  mutating func string() -> String? {
    guard let b = lengthDelimited(), !b.contains(0) else { return nil }
    return String(validating: b, as: UTF8.self)
  }
}
