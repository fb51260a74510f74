/// Validates and normalizes raw records. Pure: no I/O, no clock.
public struct RecordNormalizer: Sendable {
  public var limits: RecordLimits {
    didSet { blockedASCII = Self.asciiMembers(of: limits.blockedIdentifiers) }
  }
  /// The blocked identifiers an ASCII identifier can match once lower-cased (those of lower-case
  /// ASCII): an ASCII identifier is compared with these on its bytes, without a lower-cased copy
  /// or a hash. Nil when a blocked identifier is not ASCII: String equality is canonical
  /// equivalence, and a few non-ASCII spellings equal ASCII ones ("nul\u{1FEF}" is "nul`"), so
  /// then every identifier is looked up in the set.
  private var blockedASCII: (lengths: UInt64, members: [[UInt8]])?

  /// - Parameters:
  ///   - limits: field bounds to enforce.
  public init(limits: RecordLimits = .default) {
    self.limits = limits
    blockedASCII = Self.asciiMembers(of: limits.blockedIdentifiers)
  }

  /// The lower-case ASCII members, and their lengths as bits (bit n: one is n bytes long; bit 63:
  /// 63 or longer); nil when a member is not ASCII.
  private static func asciiMembers(of identifiers: Set<String>) -> (lengths: UInt64, members: [[UInt8]])? {
    let all = identifiers.map { Array($0.utf8) }
    guard all.allSatisfy({ $0.allSatisfy { $0 < 0x80 } }) else { return nil }
    // An upper-case member never equals a lower-cased identifier.
    let members = all.filter { !$0.contains { (0x41...0x5A).contains($0) } }
    return (members.reduce(0) { $0 | 1 << min($1.count, 63) }, members)
  }

  /// Normalizes one record, or throws an `invalidArgument` naming the first bad field.
  ///
  /// Email is trimmed and lower-cased; cookie and other strings are trimmed; empty
  /// strings become absent; a cookie that is a blocked placeholder ("null", "undefined", ...) is
  /// an error and such an email is dropped; `created_at` is parsed (see `Timestamp(parsing:)`);
  /// age must be 0...130; interests are trimmed, empty ones dropped, and
  /// case-insensitive repeats removed (first spelling kept).
  /// - Parameters:
  ///   - raw: the record as sent.
  public func normalize(_ raw: RawRecord) throws(AudienceError) -> Record {
    try raw.withBytes { (bytes) throws(AudienceError) in try normalize(bytes) }
  }

  /// As `normalize(_: RawRecord)`, from the bytes the record arrived in: each field is checked
  /// (UTF-8, no NUL or other control character, the length limit) and becomes a `String` once,
  /// already trimmed; a date is parsed from its bytes.
  /// - Parameters:
  ///   - raw: the record's fields.
  public func normalize(_ raw: borrowing RawRecordBytes) throws(AudienceError) -> Record {
    let cookie = try text(raw.cookie, "data.cookie")
    guard let cookie else { throw .invalidField("data.cookie", "is required and must not be empty") }
    if isBlocked(cookie) {
      throw .invalidField("data.cookie", "\(Self.quote(cookie)) is a placeholder, not an identifier (a blocked value)")
    }
    let email = try self.email(raw.email)
    let createdAt = try timestamp(raw.createdAt)
    if let age = raw.age, !(0...130).contains(age) {
      throw .invalidField("data.demographics.age", "\(age) is outside 0...130")
    }
    guard raw.interestCount <= limits.maxInterestsPerRecord, raw.interestsNotKept == 0 else {
      throw .invalidField(
        "data.interests",
        "\(raw.interestCount) interests exceed the limit of \(min(limits.maxInterestsPerRecord, RawRecordBytes.interestsKept))")
    }
    var interests: [String] = []
    interests.reserveCapacity(raw.interests.count)
    // Case-insensitive repeats: a few interests are compared with those kept, many in a set.
    var seen = Set<String>()
    let few = raw.interests.count <= 16
    for (i, interest) in raw.interests.enumerated() {
      guard let value = try text(interest, "data.interests[\(i)]") else { continue }
      if few {
        if interests.contains(where: { Self.sameFolded($0, value) }) { continue }
      } else if !seen.insert(value.asciiFastLowercased).inserted {
        continue
      }
      interests.append(value)
    }
    return Record(
      cookie: cookie, email: email,
      phoneNumber: try text(raw.phoneNumber, "data.phone_number"),
      createdAt: createdAt,
      location: Location(
        state: try text(raw.state, "data.location.state"),
        country: try text(raw.country, "data.location.country"),
        city: try text(raw.city, "data.location.city")),
      demographics: Demographics(
        age: raw.age,
        gender: try text(raw.gender, "data.demographics.gender"),
        income: try text(raw.income, "data.demographics.income"),
        education: try text(raw.education, "data.demographics.education")),
      interests: interests)
  }

  /// How a field's bytes passed the checks.
  private enum Checked {
    case absent
    /// Both ends are printable ASCII other than space: nothing to trim.
    case plain(ascii: Bool)
    case mayNeedTrim
  }

  /// Checks a field's bytes: the length limit, UTF-8, no control character (a NUL named as such:
  /// no client of the protocol can have meant it).
  /// - Parameters:
  ///   - field: the field's name, built only for an error (an interest's name is interpolated).
  private func check(_ utf8: UnsafeBufferPointer<UInt8>, _ field: @autoclosure () -> String) throws(AudienceError) -> Checked {
    let count = utf8.count
    guard count <= limits.maxFieldBytes else {
      throw .invalidField(field(), "\(count) bytes exceed the limit of \(limits.maxFieldBytes)")
    }
    guard count > 0, let base = UnsafeRawPointer(utf8.baseAddress) else { return .absent }
    // One pass over the bytes: control characters are ASCII, so a byte scan finds them (UTF-8
    // continuation bytes are >= 0x80). Eight bytes at a time while none is below 0x20
    // ("hasless": exact for "any"), the last eight (overlapping) for the rest, and byte by byte
    // only from a word holding one (a tab is allowed).
    var high: UInt64 = 0
    var i = 0
    if count >= 8 {
      while i + 8 <= count {
        let x = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
        if ByteWords.hasControl(x) { break }
        high |= x
        i += 8
      }
      if i < count && i + 8 > count {
        let x = base.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
        if !ByteWords.hasControl(x) {
          high |= x
          i = count
        }
      }
    }
    while i < count {
      let b = utf8[i]
      if b < 0x20 && b != 0x09 {
        throw .invalidField(field(), b == 0 ? Self.nulMessage(at: i, of: count) : "contains control characters")
      }
      high |= UInt64(b)
      i += 1
    }
    let ascii = high & 0x8080_8080_8080_8080 == 0
    if !ascii, !Self.isUTF8(utf8) { throw .invalidField(field(), "is not valid UTF-8") }
    let head = utf8[0]
    let tail = utf8[count - 1]
    return head >= 0x21 && head <= 0x7E && tail >= 0x21 && tail <= 0x7E ? .plain(ascii: ascii) : .mayNeedTrim
  }

  /// Why a string holding a NUL byte is refused (protobuf-c's decoding says the same).
  public static func nulMessage(at offset: Int, of length: Int) -> String {
    "contains a NUL byte at byte \(offset) (of \(length)), which the protocol cannot carry"
  }

  static func isUTF8(_ utf8: UnsafeBufferPointer<UInt8>) -> Bool {
    String(validating: utf8, as: UTF8.self) != nil
  }

  /// A checked string field, trimmed; empty becomes nil.
  private func text(_ utf8: UnsafeBufferPointer<UInt8>, _ field: @autoclosure () -> String) throws(AudienceError) -> String? {
    switch try check(utf8, field()) {
    case .absent: return nil
    case .plain: return String(decoding: utf8, as: UTF8.self)
    case .mayNeedTrim: return text(String(decoding: utf8, as: UTF8.self))
    }
  }

  /// The email, trimmed and lower-cased; nil when absent or a placeholder (a placeholder email is
  /// no email: it must not join everyone who sent it). A plain ASCII one (nearly all) is checked
  /// on its bytes and lower-cased as it is made; any other through a string.
  private func email(_ utf8: UnsafeBufferPointer<UInt8>) throws(AudienceError) -> String? {
    let email: String
    switch try check(utf8, "data.email") {
    case .absent: return nil
    case .plain(ascii: true):
      email = String(asciiLowercasing: utf8)
      if isBlocked(email) { return nil }
      // Line breaks are control characters, refused already.
      // Other line breaks and controls were refused already; a tab is allowed elsewhere.
      if utf8.contains(where: { $0 == 0x20 || $0 == 0x09 }) { throw Self.emailWhitespace }
      return email
    case .plain(ascii: false), .mayNeedTrim:
      guard let trimmed = text(String(decoding: utf8, as: UTF8.self)) else { return nil }
      email = trimmed.asciiFastLowercased
    }
    if isBlocked(email) { return nil }
    if Self.hasWhitespace(email) { throw Self.emailWhitespace }
    return email
  }

  /// A checked string, trimmed; nil when nothing is left.
  private func text(_ checked: String) -> String? {
    let trimmed = checked.trimmingWhitespace()
    return trimmed.isEmpty ? nil : trimmed
  }

  /// `created_at`, parsed from its bytes (a string is made only to trim odd ends or to quote it).
  private func timestamp(_ utf8: UnsafeBufferPointer<UInt8>) throws(AudienceError) -> Timestamp? {
    let date: String
    switch try check(utf8, "data.created_at") {
    case .absent: return nil
    case .plain:
      if let parsed = Timestamp(utf8: utf8) { return parsed }
      date = String(decoding: utf8, as: UTF8.self)
    case .mayNeedTrim:
      date = String(decoding: utf8, as: UTF8.self).trimmingWhitespace()
      if date.isEmpty { return nil }
      if let parsed = Timestamp(parsing: date) { return parsed }
    }
    throw .invalidField(
      "data.created_at", "\(Self.quote(date)) is not a date (expected MM/DD/YYYY HH:MM or YYYY-MM-DDTHH:MM:SS)")
  }

  /// Whether a trimmed identifier is one of `blockedIdentifiers` once lower-cased. An ASCII one
  /// is compared on its bytes, and only with members of its length (lower-casing keeps the length
  /// of ASCII), when every member is ASCII; any other is lower-cased and looked up.
  private func isBlocked(_ identifier: String) -> Bool {
    let ascii: Bool? = identifier.withUTF8InPlace { utf8 in
      guard let blockedASCII, !utf8.contains(where: { $0 >= 0x80 }) else { return nil }
      guard blockedASCII.lengths & 1 << min(utf8.count, 63) != 0 else { return false }
      return blockedASCII.members.contains { member in
        member.count == utf8.count && member.indices.allSatisfy { utf8[$0].asciiLowercased == member[$0] }
      }
    }
    return ascii ?? limits.blockedIdentifiers.contains(identifier.asciiFastLowercased)
  }

  /// Whether two strings are the same lower-cased (`asciiFastLowercased`): two ASCII ones are
  /// compared on their bytes.
  static func sameFolded(_ a: String, _ b: String) -> Bool {
    let ascii: Bool? = a.withUTF8InPlace { x in
      b.withUTF8InPlace { y in
        if x.contains(where: { $0 >= 0x80 }) || y.contains(where: { $0 >= 0x80 }) { return nil }
        guard x.count == y.count else { return false }
        for i in 0..<x.count where x[i] != y[i] {
          let (p, q) = (x[i] | 0x20, y[i] | 0x20)
          guard p == q, p >= 0x61 && p <= 0x7A else { return false }
        }
        return true
      }
    }
    return ascii ?? (a.asciiFastLowercased == b.asciiFastLowercased)
  }

  /// An email with whitespace inside: refused, whichever space it is (a tab and a no-break space
  /// were taken as part of the address while a plain space was refused).
  static let emailWhitespace = AudienceError.invalidField("data.email", "must not contain whitespace (spaces, tabs, no-break spaces)")

  /// Whether a string holds any Unicode whitespace (spaces of every width, tabs, line breaks).
  static func hasWhitespace(_ s: String) -> Bool {
    s.unicodeScalars.contains { $0.properties.isWhitespace }
  }

  static func quote(_ s: String) -> String {
    let short = s.count > 40 ? String(s.prefix(40)) + "…" : s
    return "\"\(short)\""
  }
}

extension String {
  /// The string without leading and trailing whitespace (Unicode-aware).
  public func trimmingWhitespace() -> String {
    // Fast path: ends that are printable ASCII other than space need no Unicode analysis.
    if let head = utf8.first, let tail = utf8.last, (0x21...0x7E).contains(head), (0x21...0x7E).contains(tail) {
      return self
    }
    guard let first = firstIndex(where: { !$0.isWhitespace }) else { return "" }
    let last = lastIndex(where: { !$0.isWhitespace })!
    return String(self[first...last])
  }
}
