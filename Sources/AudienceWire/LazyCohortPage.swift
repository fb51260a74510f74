public import AudienceCore
internal import Glibc
public import NIOCore

/// A QueryCohort page whose users stay as the bytes that came, turned into Swift values only
/// when read: for pages of thousands of users of which a program reads a few fields, or hands
/// them on. The page is checked when it arrives (every field's bounds and wire type, as
/// protobuf-c would check them), so a malformed page is refused then, never later; what is
/// left for reading time is making each `String` (and checking it is UTF-8).
public struct LazyCohortPage: Sendable {
  /// Every match, not only this page's.
  public let total: Int
  public let users: LazyRecords
  /// Nil on the last page.
  public let nextCursor: String?

  /// Reads a response payload that is an OK QueryCohort page; nil when it is anything else
  /// (an error status, another method's response, or a page encoded unusually: a repeated
  /// body field): decode those with `WireCodec.decodeResponse`.
  /// - Parameters:
  ///   - payload: the frame's bytes (without the length prefix).
  public init?(_ payload: ByteBuffer) throws(AudienceError) {
    let page = try payload.withUnsafeReadableBytes { raw throws(AudienceError) -> LazyCohortPage? in
      let b = raw.bindMemory(to: UInt8.self)
      guard let (total, users, cursor) = try Self.outline(b, users: true) else { return nil }
      var slots = [UInt32](repeating: 0, count: users.count * LazyRecords.stride)
      try slots.withUnsafeMutableBufferPointer { s throws(AudienceError) in
        for (i, range) in users.enumerated() {
          try LazyRecords.index(b.baseAddress!, range, into: s.baseAddress! + i * LazyRecords.stride)
        }
      }
      return LazyCohortPage(
        total: Int(clamping: total), users: LazyRecords(LazyRecords.Storage(bytes: payload, slots: slots), count: users.count),
        nextCursor: cursor)
    }
    guard let page else { return nil }
    self = page
  }

  /// The same page already decoded (re-encoded by protobuf-c and read back).
  /// - Parameters:
  ///   - page: a decoded page.
  public init(_ page: CohortPage) throws(AudienceError) {
    var buffer = ByteBuffer()
    WireCodec.encode(WireResponse(id: 1, body: .queryCohort(page)), into: &buffer)
    buffer.moveReaderIndex(forwardBy: 4)
    guard let lazy = try Self(buffer) else { preconditionFailure("protobuf-c's encoding of a page is read") }
    self = lazy
  }

  private init(total: Int, users: LazyRecords, nextCursor: String?) {
    self.total = total
    self.users = users
    self.nextCursor = nextCursor
  }

  /// The page with every user decoded (strings checked to be UTF-8), as `queryCohort` returns it.
  public func decoded() throws(AudienceError) -> CohortPage {
    var records: [Record] = []
    records.reserveCapacity(users.count)
    for user in users { records.append(try user.record()) }
    return CohortPage(total: total, users: records, nextCursor: nextCursor)
  }

  /// The cursor of the page after this one, read without reading the users: a client that
  /// fetches every page asks for the next one before it reads this one. Nil on the last page,
  /// and for a payload that is not an OK page (reading it as a page says what it is).
  /// - Parameters:
  ///   - payload: the frame's bytes (without the length prefix).
  public static func nextCursor(in payload: ByteBuffer) -> String? {
    payload.withUnsafeReadableBytes { raw in (try? outline(raw.bindMemory(to: UInt8.self), users: false))??.cursor }
  }

  /// `audience.v1.Response` { id = 1; query_cohort = 13 { total = 1; users = 2; next_cursor = 3 } }
  /// down to where each user's bytes are (when `collect`; the users are only stepped over else).
  private static func outline(
    _ b: UnsafeBufferPointer<UInt8>, users collect: Bool
  ) throws(AudienceError) -> (total: UInt64, users: [Range<Int>], cursor: String?)? {
    guard let base = b.baseAddress else { return nil }
    var r = ProtoReader(base, 0..<b.count)
    var body: Range<Int>?
    while !r.atEnd {
      let (field, wire) = try r.key()
      switch field {
      case 1:
        try r.expect(ProtoReader.varint, wire, "Response.id")
        _ = try r.varint()
      case 13:
        try r.expect(ProtoReader.lengthDelimited, wire, "Response.query_cohort")
        guard body == nil else { return nil }  // a body in two parts: merged by protobuf-c
        body = try r.lengthDelimited()
      case 2, 10...22:
        return nil  // a status, or another method's body
      default:
        try r.skip(wire)
      }
    }
    guard let body else { return nil }
    var q = ProtoReader(base, body)
    var total: UInt64 = 0
    var cursor: Range<Int>?
    var users: [Range<Int>] = []
    if collect { users.reserveCapacity(body.count / 64) }  // records are 100-200 bytes
    while !q.atEnd {
      let (field, wire) = try q.key()
      switch field {
      case 1:
        try q.expect(ProtoReader.varint, wire, "QueryCohortResponse.total")
        total = try q.varint()
      case 2:
        try q.expect(ProtoReader.lengthDelimited, wire, "QueryCohortResponse.users")
        if collect { users.append(try q.lengthDelimited()) } else { _ = try q.lengthDelimited() }
      case 3:
        try q.expect(ProtoReader.lengthDelimited, wire, "QueryCohortResponse.next_cursor")
        cursor = try q.lengthDelimited()
      default:
        try q.skip(wire)
      }
    }
    guard let cursor else { return (total, users, nil) }
    let next = try LazyRecord.checked(UnsafeBufferPointer(rebasing: b[cursor]), "next_cursor")
    return (total, users, next.isEmpty ? nil : next)
  }
}


/// The users of a `LazyCohortPage`, in the page's order.
public struct LazyRecords: RandomAccessCollection, Sendable {
  /// The page's bytes and, per user, where its fields are (`stride` numbers: the record's
  /// bounds, then where each string field's length is, 0 when absent, then the age).
  final class Storage: Sendable {
    let bytes: ByteBuffer
    let slots: [UInt32]
    init(bytes: ByteBuffer, slots: [UInt32]) {
      self.bytes = bytes
      self.slots = slots
    }
  }

  /// Slot numbers: 0 and 1 the record's bounds; strings at `string + field`; age last.
  static let string = 2, agePresent = 12, age = 13, stride = 14
  /// String fields, in slot order.
  enum Field: Int {
    case cookie, email, phoneNumber, createdAt, state, country, city, gender, income, education
  }

  let storage: Storage
  public let count: Int

  init(_ storage: Storage, count: Int) {
    self.storage = storage
    self.count = count
  }

  public var startIndex: Int { 0 }
  public var endIndex: Int { count }

  public subscript(position: Int) -> LazyRecord {
    precondition(position >= 0 && position < count, "LazyRecords index \(position) out of 0..<\(count)")
    return LazyRecord(storage: storage, slot: position * Self.stride)
  }

  /// Checks one `audience.v1.Record` as protobuf-c would (bounds, wire types of known fields)
  /// and notes where its fields are (the last of a repeated field wins, and a sub-message in
  /// parts merges, as protobuf-c reads them).
  static func index(_ base: UnsafePointer<UInt8>, _ range: Range<Int>, into slot: UnsafeMutablePointer<UInt32>) throws(AudienceError) {
    slot[0] = UInt32(truncatingIfNeeded: range.lowerBound)  // frames are under 4 GiB
    slot[1] = UInt32(truncatingIfNeeded: range.upperBound)
    /// Notes where string field `f`'s length is, and checks its bounds.
    @inline(__always)
    func note(_ f: Int, _ r: inout ProtoReader) throws(AudienceError) {
      slot[string + f] = UInt32(truncatingIfNeeded: r.at)
      try r.skipLengthDelimited()
    }
    var r = ProtoReader(base, range)
    while !r.atEnd {
      let (field, wire) = try r.key()
      switch field {
      case 1...4:
        try r.expect(ProtoReader.lengthDelimited, wire, "Record field \(field)")
        try note(Int(field) - 1, &r)
      case 5:
        try r.expect(ProtoReader.lengthDelimited, wire, "Record.location")
        var l = ProtoReader(base, try r.lengthDelimited())
        while !l.atEnd {
          let (field, wire) = try l.key()
          switch field {
          case 1...3:
            try l.expect(ProtoReader.lengthDelimited, wire, "Location field \(field)")
            try note(Field.state.rawValue + Int(field) - 1, &l)
          default: try l.skip(wire)
          }
        }
      case 6:
        try r.expect(ProtoReader.lengthDelimited, wire, "Record.demographics")
        var d = ProtoReader(base, try r.lengthDelimited())
        while !d.atEnd {
          let (field, wire) = try d.key()
          switch field {
          case 1:
            try d.expect(ProtoReader.varint, wire, "Demographics.age")
            slot[agePresent] = 1
            slot[age] = UInt32(truncatingIfNeeded: try d.varint())
          case 2...4:
            try d.expect(ProtoReader.lengthDelimited, wire, "Demographics field \(field)")
            try note(Field.gender.rawValue + Int(field) - 2, &d)
          default: try d.skip(wire)
          }
        }
      case 7:
        try r.expect(ProtoReader.lengthDelimited, wire, "Record.interests")
        try r.skipLengthDelimited()
      default:
        try r.skip(wire)
      }
    }
  }
}

/// One user of a `LazyCohortPage`. Each property is decoded from the page's bytes when asked
/// for (reading one twice decodes it twice: keep what you read). The server only ever sends
/// UTF-8 without NUL bytes; should a string not be, these properties repair it (U+FFFD) or end it
/// at its NUL, while `record()` throws.
public struct LazyRecord: Sendable {
  let storage: LazyRecords.Storage
  let slot: Int

  /// The cookie of the profile's latest record.
  public var cookie: String { string(.cookie) ?? "" }
  public var email: String? { string(.email) }
  public var phoneNumber: String? { string(.phoneNumber) }
  public var createdAt: Timestamp? { bytes(.createdAt) { $0.isEmpty ? nil : Timestamp(utf8: $0) } }
  public var location: Location { Location(state: string(.state), country: string(.country), city: string(.city)) }

  public var demographics: Demographics {
    Demographics(
      age: storage.slots[slot + LazyRecords.agePresent] == 0
        ? nil : Int(Int32(bitPattern: storage.slots[slot + LazyRecords.age])),
      gender: string(.gender), income: string(.income), education: string(.education))
  }

  public var interests: [String] { (try? interests { String(decoding: $0, as: UTF8.self) }) ?? [] }

  /// The whole record, every string checked to be UTF-8 and without a NUL byte, as
  /// `queryCohort` decodes it (protobuf-c reads C strings: an optional field whose first byte is
  /// a NUL is absent there, and a NUL anywhere else is refused).
  public func record() throws(AudienceError) -> Record {
    func checked(_ f: LazyRecords.Field, _ name: String, optional: Bool = true) throws(AudienceError) -> String? {
      try bytes(f, whole: true) { b throws(AudienceError) -> String? in
        guard !b.isEmpty, !(optional && b[0] == 0) else { return nil }
        return try Self.checked(b, name)
      }
    }
    var i = 0
    return Record(
      cookie: try checked(.cookie, "data.cookie", optional: false) ?? "", email: try checked(.email, "data.email"),
      phoneNumber: try checked(.phoneNumber, "data.phone_number"), createdAt: createdAt,
      location: Location(
        state: try checked(.state, "data.location.state"), country: try checked(.country, "data.location.country"),
        city: try checked(.city, "data.location.city")),
      demographics: Demographics(
        age: demographics.age, gender: try checked(.gender, "data.demographics.gender"),
        income: try checked(.income, "data.demographics.income"), education: try checked(.education, "data.demographics.education")),
      interests: try interests(whole: true) { b throws(AudienceError) -> String in
        defer { i += 1 }
        return try Self.checked(b, "data.interests[\(i)]")
      })
  }

  private func string(_ f: LazyRecords.Field) -> String? {
    bytes(f) { $0.isEmpty ? nil : String(decoding: $0, as: UTF8.self) }
  }

  /// - Parameters:
  ///   - whole: the string's bytes as sent; otherwise up to its first NUL, as protobuf-c reads it.
  private func bytes<T, E: Error>(
    _ f: LazyRecords.Field, whole: Bool = false, _ body: (UnsafeBufferPointer<UInt8>) throws(E) -> T
  ) throws(E) -> T {
    let at = Int(storage.slots[slot + LazyRecords.string + f.rawValue])
    return try storage.bytes.withUnsafeReadableBytes { raw throws(E) in
      let b = raw.bindMemory(to: UInt8.self)
      guard at != 0 else { return try body(UnsafeBufferPointer(start: b.baseAddress, count: 0)) }
      // Checked when the page was read, so this cannot fail.
      var r = ProtoReader(b.baseAddress!, at..<b.count)
      let value = (try? r.lengthDelimited()) ?? at..<at
      let bytes = UnsafeBufferPointer(rebasing: b[value])
      return try body(whole ? bytes : Self.cString(bytes))
    }
  }

  /// A string as `CStrings.read` reads it from protobuf-c: UTF-8, and refused when it holds a NUL.
  static func checked(_ whole: UnsafeBufferPointer<UInt8>, _ name: @autoclosure () -> String) throws(AudienceError) -> String {
    let text = cString(whole)
    guard let s = String(validating: text, as: UTF8.self) else { throw .invalidField(name(), "is not valid UTF-8") }
    if text.count != whole.count { throw .invalidField(name(), CStrings.nulMessage(at: text.count, of: whole.count)) }
    return s
  }

  /// A string's bytes up to its first NUL, if it has one: protobuf-c hands strings over as C
  /// strings, so `queryCohort` sees them that way, and both readers must agree. (The server
  /// never stores a NUL: what it receives goes through protobuf-c too.)
  static func cString(_ b: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
    guard let base = b.baseAddress, let nul = memchr(base, 0, b.count) else { return b }
    return UnsafeBufferPointer(start: base, count: UnsafeRawPointer(nul) - UnsafeRawPointer(base))
  }

  /// Each interest, in order (field 7 wherever it appears in the record).
  private func interests(
    whole: Bool = false, _ make: (UnsafeBufferPointer<UInt8>) throws(AudienceError) -> String
  ) throws(AudienceError) -> [String] {
    try storage.bytes.withUnsafeReadableBytes { raw throws(AudienceError) in
      let b = raw.bindMemory(to: UInt8.self)
      var result: [String] = []
      var r = ProtoReader(b.baseAddress!, Int(storage.slots[slot])..<Int(storage.slots[slot + 1]))
      while !r.atEnd {
        let (field, wire) = try r.key()
        if field == 7 {
          let bytes = UnsafeBufferPointer(rebasing: b[try r.lengthDelimited()])
          result.append(try make(whole ? bytes : Self.cString(bytes)))
        } else {
          try r.skip(wire)
        }
      }
      return result
    }
  }
}
