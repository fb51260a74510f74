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
    if limits.blockedIdentifiers.contains(cookie.asciiFastLowercased) {
      throw .invalidField("data.cookie", "\(Self.quote(cookie)) is a placeholder, not an identifier (a blocked value)")
    }
    // A placeholder email is no email: it must not join everyone who sent it.
    var email = try text(raw.email, "data.email")?.asciiFastLowercased
    if let e = email, limits.blockedIdentifiers.contains(e) { email = nil }
    if let email, email.contains(where: { $0 == " " || $0.isNewline }) {
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
    var seen = Set<String>()
    for (i, interest) in raw.interests.enumerated() {
      guard let value = try text(interest, "data.interests[\(i)]") else { continue }
      if seen.insert(value.lowercased()).inserted { interests.append(value) }
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
  private func text(_ value: String, _ field: String) throws(AudienceError) -> String? {
    guard value.utf8.count <= limits.maxFieldBytes else {
      throw .invalidField(field, "\(value.utf8.count) bytes exceed the limit of \(limits.maxFieldBytes)")
    }
    // Control characters are ASCII, so a byte scan finds them (UTF-8 continuation bytes are >= 0x80).
    if value.utf8.contains(where: { $0 < 0x20 && $0 != 0x09 }) {
      throw .invalidField(field, "contains control characters")
    }
    let trimmed = value.trimmingWhitespace()
    return trimmed.isEmpty ? nil : trimmed
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
