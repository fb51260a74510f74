/// A profile's number: its position in creation order. The oldest profile has the smallest id.
public typealias ProfileID = Int

/// Orders records for "the latest wins": by `created_at`, ties broken by ingest sequence.
public struct RecordKey: Hashable, Comparable, Sendable {
  public var createdAt: Timestamp
  public var seq: UInt64

  /// - Parameters:
  ///   - createdAt: the record's time.
  ///   - seq: the record's ingest sequence number.
  public init(createdAt: Timestamp, seq: UInt64) {
    self.createdAt = createdAt
    self.seq = seq
  }

  public static func < (a: RecordKey, b: RecordKey) -> Bool {
    (a.createdAt, a.seq) < (b.createdAt, b.seq)
  }
}

/// A field value and the record it came from.
struct Sourced<Value: Sendable>: Sendable {
  var value: Value
  var key: RecordKey

  /// Keeps whichever of the two is newer.
  static func newer(_ a: Sourced?, _ b: Sourced?) -> Sourced? {
    guard let a else { return b }
    guard let b else { return a }
    return b.key > a.key ? b : a
  }
}

/// Where an interest was first seen: the record and its position in the record.
struct InterestSource: Sendable {
  var spelling: String
  var key: RecordKey
  var position: Int

  func precedes(_ other: InterestSource) -> Bool { (key, position) < (other.key, other.position) }
}

/// One person: a connected component of cookies and emails, and the merged view of its records.
///
/// Each field holds the value of the latest record (by `RecordKey`) that has that field;
/// interests are the union of all records' interests, each in the spelling of the record
/// that first had it.
public struct Profile: Sendable {
  public let id: ProfileID
  /// Cookies in the order they joined.
  public internal(set) var cookies = IdentifierList()
  /// Emails in the order they joined.
  public internal(set) var emails = IdentifierList()
  public internal(set) var recordCount = 0
  /// The earliest and the latest record.
  public internal(set) var first: RecordKey
  public internal(set) var last: RecordKey

  var cookie: Sourced<String>
  var email: Sourced<String>?
  var phone: Sourced<String>?
  var state: Sourced<String>?
  var country: Sourced<String>?
  var city: Sourced<String>?
  var age: Sourced<Int>?
  var gender: Sourced<String>?
  var income: Sourced<String>?
  var education: Sourced<String>?
  var interests = InterestSet()
  /// Whether one of its emails was seen with two or more cookies (emails never lose cookies,
  /// so once true it stays true).
  public internal(set) var inCohort = false

  init(id: ProfileID, key: RecordKey, cookie: String) {
    self.id = id
    self.first = key
    self.last = key
    self.cookie = Sourced(value: cookie, key: key)
  }

  /// Folds one record's fields into the view.
  /// - Parameters:
  ///   - email: the record's email as linked (nil when its link was refused).
  mutating func absorb(_ r: Record, email: String?, key: RecordKey) {
    recordCount += 1
    first = min(first, key)
    last = max(last, key)
    func take<V>(_ slot: inout Sourced<V>?, _ value: V?) {
      if let value { slot = Sourced.newer(slot, Sourced(value: value, key: key)) }
    }
    if key >= cookie.key { cookie = Sourced(value: r.cookie, key: key) }
    take(&self.email, email)
    take(&phone, r.phoneNumber)
    take(&state, r.location.state)
    take(&country, r.location.country)
    take(&city, r.location.city)
    take(&age, r.demographics.age)
    take(&gender, r.demographics.gender)
    take(&income, r.demographics.income)
    take(&education, r.demographics.education)
    // A new profile's interests grow once, not an allocation per doubling.
    if interests.isEmpty { interests.reserveCapacity(r.interests.count) }
    for (position, interest) in r.interests.enumerated() {
      addInterest(InterestSource(spelling: interest, key: key, position: position))
    }
  }

  private mutating func addInterest(_ source: InterestSource) {
    let folded = source.spelling.asciiFastLowercased
    if let existing = interests[folded], existing.precedes(source) { return }
    interests[folded] = source
  }

  /// Folds another profile (being merged into this one) into the view.
  mutating func absorb(_ other: Profile) {
    recordCount += other.recordCount
    inCohort = inCohort || other.inCohort
    first = min(first, other.first)
    last = max(last, other.last)
    if other.cookie.key > cookie.key { cookie = other.cookie }
    email = .newer(email, other.email)
    phone = .newer(phone, other.phone)
    state = .newer(state, other.state)
    country = .newer(country, other.country)
    city = .newer(city, other.city)
    age = .newer(age, other.age)
    gender = .newer(gender, other.gender)
    income = .newer(income, other.income)
    education = .newer(education, other.education)
    for (_, source) in other.interests { addInterest(source) }
    for c in other.cookies where !cookies.contains(c) { cookies.append(c) }
    for e in other.emails where !emails.contains(e) { emails.append(e) }
  }

  /// Interests in first-seen order; past `cap` the oldest are dropped.
  func interestList(cap: Int) -> [String] {
    let ordered = interests.values.sorted { $0.precedes($1) }
    return ordered.suffix(cap).map(\.spelling)
  }

  /// The merged view in the record shape.
  /// - Parameters:
  ///   - cookie: the cookie to show as `data.cookie`; nil shows the latest record's cookie.
  ///   - interestCap: most interests to show.
  func view(cookie shown: String?, interestCap: Int) -> Record {
    Record(
      cookie: shown ?? cookie.value, email: email?.value, phoneNumber: phone?.value,
      createdAt: last.createdAt,
      location: Location(state: state?.value, country: country?.value, city: city?.value),
      demographics: Demographics(
        age: age?.value, gender: gender?.value, income: income?.value, education: education?.value),
      interests: interestList(cap: interestCap))
  }
}
