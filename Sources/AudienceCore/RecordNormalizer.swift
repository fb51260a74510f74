/// Validates and normalizes raw records. Pure: no I/O, no clock.
public struct RecordNormalizer: Sendable {
  public var limits: RecordLimits

  /// - Parameters:
  ///   - limits: field bounds to enforce.
  public init(limits: RecordLimits = .default) { self.limits = limits }

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
    let cookie = try text(raw.cookie, "data.cookie")
    guard let cookie else { throw .invalidField("data.cookie", "is required and must not be empty") }
    if isBlocked(cookie) {
      throw .invalidField("data.cookie", "\(Self.quote(cookie)) is a placeholder, not an identifier (a blocked value)")
    }
    // A placeholder email is no email: it must not join everyone who sent it.
    var email = try text(raw.email, "data.email")?.asciiFastLowercased
    if let e = email, isBlocked(e) { email = nil }
    if let email, Self.hasSpaceOrNewline(email) {
      throw .invalidField("data.email", "must not contain spaces")
    }
    var createdAt: Timestamp?
    if let date = try text(raw.createdAt, "data.created_at") {
      guard let parsed = Timestamp(parsing: date) else {
        throw .invalidField(
          "data.created_at", "\(Self.quote(date)) is not a date (expected MM/DD/YYYY HH:MM or YYYY-MM-DDTHH:MM:SS)")
      }
      createdAt = parsed
    }
    if let age = raw.age, !(0...130).contains(age) {
      throw .invalidField("data.demographics.age", "\(age) is outside 0...130")
    }
    guard raw.interests.count <= limits.maxInterestsPerRecord else {
      throw .invalidField(
        "data.interests", "\(raw.interests.count) interests exceed the limit of \(limits.maxInterestsPerRecord)")
    }
    var interests: [String] = []
    interests.reserveCapacity(raw.interests.count)
    // Case-insensitive repeats: a few interests are compared in a list, many in a set.
    var folded: [String] = []
    var seen = Set<String>()
    let few = raw.interests.count <= 16
    for (i, interest) in raw.interests.enumerated() {
      guard let value = try text(interest, "data.interests[\(i)]") else { continue }
      let key = value.asciiFastLowercased
      if few {
        if folded.contains(key) { continue }
        folded.append(key)
      } else if !seen.insert(key).inserted {
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

  /// Trims a string field and checks its length; empty becomes nil.
  /// - Parameters:
  ///   - field: the field's name, built only for an error (an interest's name is interpolated).
  private func text(_ value: String, _ field: @autoclosure () -> String) throws(AudienceError) -> String? {
    let count = value.utf8.count
    guard count <= limits.maxFieldBytes else {
      throw .invalidField(field(), "\(count) bytes exceed the limit of \(limits.maxFieldBytes)")
    }
    if count == 0 { return nil }
    // One pass over the bytes: control characters are ASCII, so a byte scan finds them (UTF-8
    // continuation bytes are >= 0x80); ends that are printable ASCII other than space need no trim.
    func scan(_ utf8: UnsafeBufferPointer<UInt8>) -> (control: Bool, plainEnds: Bool) {
      var control = false
      // Eight bytes at a time while none is below 0x20 ("hasless": exact for "any"), then byte by
      // byte from the word holding one (a tab is allowed).
      var i = 0
      if let base = UnsafeRawPointer(utf8.baseAddress) {
        while i + 8 <= utf8.count {
          let x = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
          if (x &- 0x2020_2020_2020_2020) & ~x & 0x8080_8080_8080_8080 != 0 { break }
          i += 8
        }
      }
      while i < utf8.count {
        let b = utf8[i]
        if b < 0x20 && b != 0x09 {
          control = true
          break
        }
        i += 1
      }
      let head = utf8[0]
      let tail = utf8[utf8.count - 1]
      return (control, head >= 0x21 && head <= 0x7E && tail >= 0x21 && tail <= 0x7E)
    }
    let (control, plainEnds) = value.withUTF8InPlace(scan)
    if control { throw .invalidField(field(), "contains control characters") }
    if plainEnds { return value }
    let trimmed = value.trimmingWhitespace()
    return trimmed.isEmpty ? nil : trimmed
  }

  /// Whether a trimmed identifier is one of `blockedIdentifiers` once lower-cased. An ASCII
  /// string keeps its length when lower-cased, so one no blocked value matches in length is not
  /// lower-cased at all.
  private func isBlocked(_ identifier: String) -> Bool {
    let n = identifier.utf8.count
    var copy = identifier
    let ascii = copy.withUTF8 { utf8 in utf8.allSatisfy { $0 < 0x80 } }
    if ascii, !limits.blockedIdentifiers.contains(where: { $0.utf8.count == n }) { return false }
    return limits.blockedIdentifiers.contains(identifier.asciiFastLowercased)
  }

  /// Whether a string holds a space or a line break (`Character.isNewline`: U+000A-U+000D,
  /// U+0085, U+2028, U+2029), found on its UTF-8 bytes.
  static func hasSpaceOrNewline(_ s: String) -> Bool {
    var copy = s
    return copy.withUTF8 { utf8 in
      let n = utf8.count
      var i = 0
      while i < n {
        let b = utf8[i]
        if b == 0x20 || (b >= 0x0A && b <= 0x0D) { return true }
        if b == 0xC2, i + 1 < n, utf8[i + 1] == 0x85 { return true }
        if b == 0xE2, i + 2 < n, utf8[i + 1] == 0x80, utf8[i + 2] == 0xA8 || utf8[i + 2] == 0xA9 { return true }
        i += 1
      }
      return false
    }
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
