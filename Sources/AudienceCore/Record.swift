/// Where a person is, as the record says.
public struct Location: Hashable, Sendable {
  public var state: String?
  public var country: String?
  public var city: String?

  /// - Parameters:
  ///   - state: state or region.
  ///   - country: country name as sent.
  ///   - city: city name as sent.
  public init(state: String? = nil, country: String? = nil, city: String? = nil) {
    self.state = state
    self.country = country
    self.city = city
  }
}

/// Who a person is, as the record says.
public struct Demographics: Hashable, Sendable {
  public var age: Int?
  public var gender: String?
  /// A number ("50000") or a label ("High"), as sent.
  public var income: String?
  public var education: String?

  /// - Parameters:
  ///   - age: years, 0...130.
  ///   - gender: as sent.
  ///   - income: a number or a label, as sent.
  ///   - education: as sent.
  public init(age: Int? = nil, gender: String? = nil, income: String? = nil, education: String? = nil) {
    self.age = age
    self.gender = gender
    self.income = income
    self.education = education
  }
}

/// A user record in the original specification's `{"data": {...}}` shape.
///
/// A record coming in (`RawRecord`) is normalized into this type; a merged
/// profile is presented in this type too.
public struct Record: Hashable, Sendable {
  /// Trimmed, case-sensitive, never empty.
  public var cookie: String
  /// Trimmed and lower-cased; nil when absent.
  public var email: String?
  public var phoneNumber: String?
  /// Nil only before the store assigns the ingest time to a record that had none.
  public var createdAt: Timestamp?
  public var location: Location
  public var demographics: Demographics
  /// In the order sent, without case-insensitive duplicates.
  public var interests: [String]

  /// - Parameters:
  ///   - cookie: the cookie id.
  ///   - email: normalized email.
  ///   - phoneNumber: phone as sent (trimmed).
  ///   - createdAt: when the record was made.
  ///   - location: location fields.
  ///   - demographics: demographic fields.
  ///   - interests: interests in order.
  public init(
    cookie: String, email: String? = nil, phoneNumber: String? = nil, createdAt: Timestamp? = nil,
    location: Location = Location(), demographics: Demographics = Demographics(), interests: [String] = []
  ) {
    self.cookie = cookie
    self.email = email
    self.phoneNumber = phoneNumber
    self.createdAt = createdAt
    self.location = location
    self.demographics = demographics
    self.interests = interests
  }
}

/// A record exactly as a client sent it, before validation. Empty strings mean "absent".
public struct RawRecord: Hashable, Sendable {
  public var cookie: String
  public var email: String
  public var phoneNumber: String
  public var createdAt: String
  public var state: String
  public var country: String
  public var city: String
  public var age: Int?
  public var gender: String
  public var income: String
  public var education: String
  public var interests: [String]

  /// - Parameters: each field as sent; empty strings mean absent.
  public init(
    cookie: String = "", email: String = "", phoneNumber: String = "", createdAt: String = "",
    state: String = "", country: String = "", city: String = "", age: Int? = nil, gender: String = "",
    income: String = "", education: String = "", interests: [String] = []
  ) {
    self.cookie = cookie
    self.email = email
    self.phoneNumber = phoneNumber
    self.createdAt = createdAt
    self.state = state
    self.country = country
    self.city = city
    self.age = age
    self.gender = gender
    self.income = income
    self.education = education
    self.interests = interests
  }
}

extension RawRecord {
  /// The first field holding a NUL byte (named as in `{"data": ...}`), or nil. The protocol's
  /// strings end at a NUL (protobuf-c hands them over as C strings), so such a record would
  /// arrive cut short, "ab\0cd" becoming the cookie "ab": clients refuse it instead.
  public var fieldWithNUL: String? {
    // On the bytes in place: `utf8.contains` walks the generic view a byte at a time, and this
    // check runs on every field of every record a client sends.
    func has(_ s: String) -> Bool {
      s.utf8.withContiguousStorageIfAvailable { $0.firstIndex(of: 0) != nil } ?? s.utf8.contains(0)
    }
    if has(cookie) { return "data.cookie" }
    if has(email) { return "data.email" }
    if has(phoneNumber) { return "data.phone_number" }
    if has(createdAt) { return "data.created_at" }
    if has(state) { return "data.location.state" }
    if has(country) { return "data.location.country" }
    if has(city) { return "data.location.city" }
    if has(gender) { return "data.demographics.gender" }
    if has(income) { return "data.demographics.income" }
    if has(education) { return "data.demographics.education" }
    for (i, interest) in interests.enumerated() where has(interest) { return "data.interests[\(i)]" }
    return nil
  }

  /// Throws INVALID_ARGUMENT naming the first field with a NUL byte (see `fieldWithNUL`).
  public consuming func refusingNUL() throws(AudienceError) -> RawRecord {
    if let field = fieldWithNUL { throw .invalidField(field, "contains a NUL byte, which the protocol cannot carry") }
    return self
  }
}
