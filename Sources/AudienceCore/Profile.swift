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

  /// Each field's value; the record it came from is in `keys` (a field's `Sourced` form, below,
  /// joins the two).
  private var cookieText: String
  private var emailText: String?
  private var phoneText: String?
  private var stateText: String?
  private var countryText: String?
  private var cityText: String?
  private(set) var ageValue: Int?
  private var genderText: String?
  private(set) var incomeText: String?
  private var educationText: String?
  private var keys: FieldKeys
  var interests = InterestSet()
  /// Whether one of its emails was seen with two or more cookies (emails never lose cookies,
  /// so once true it stays true).
  public internal(set) var inCohort = false

  init(id: ProfileID, key: RecordKey, cookie: String) {
    self.id = id
    self.first = key
    self.last = key
    cookieText = cookie
    keys = FieldKeys(key)
  }

  var cookie: Sourced<String> {
    get { Sourced(value: cookieText, key: keys[.cookie]) }
    set {
      cookieText = newValue.value
      keys.set(.cookie, newValue.key)
    }
  }
  var email: Sourced<String>? {
    get { sourced(emailText, .email) }
    set { Self.set(&emailText, &keys, .email, newValue) }
  }
  var phone: Sourced<String>? {
    get { sourced(phoneText, .phone) }
    set { Self.set(&phoneText, &keys, .phone, newValue) }
  }
  var state: Sourced<String>? {
    get { sourced(stateText, .state) }
    set { Self.set(&stateText, &keys, .state, newValue) }
  }
  var country: Sourced<String>? {
    get { sourced(countryText, .country) }
    set { Self.set(&countryText, &keys, .country, newValue) }
  }
  var city: Sourced<String>? {
    get { sourced(cityText, .city) }
    set { Self.set(&cityText, &keys, .city, newValue) }
  }
  var age: Sourced<Int>? {
    get { sourced(ageValue, .age) }
    set { Self.set(&ageValue, &keys, .age, newValue) }
  }
  var gender: Sourced<String>? {
    get { sourced(genderText, .gender) }
    set { Self.set(&genderText, &keys, .gender, newValue) }
  }
  var income: Sourced<String>? {
    get { sourced(incomeText, .income) }
    set { Self.set(&incomeText, &keys, .income, newValue) }
  }
  var education: Sourced<String>? {
    get { sourced(educationText, .education) }
    set { Self.set(&educationText, &keys, .education, newValue) }
  }

  private func sourced<V>(_ value: V?, _ field: FieldKeys.Field) -> Sourced<V>? {
    value.map { Sourced(value: $0, key: keys[field]) }
  }

  private static func set<V>(_ slot: inout V?, _ keys: inout FieldKeys, _ field: FieldKeys.Field, _ new: Sourced<V>?) {
    slot = new?.value
    if let new { keys.set(field, new.key) }
  }

  /// Folds one record's fields into the view.
  /// - Parameters:
  ///   - email: the record's email as linked (nil when its link was refused).
  mutating func absorb(_ r: Record, email: String?, key: RecordKey) {
    recordCount += 1
    first = min(first, key)
    last = max(last, key)
    /// The newer of the two (a value as new as the one held does not replace it).
    func take<V>(_ slot: inout V?, _ keys: inout FieldKeys, _ field: FieldKeys.Field, _ value: V?) {
      guard let value, slot == nil || key > keys[field] else { return }
      slot = value
      keys.set(field, key)
    }
    if key >= keys[.cookie] {
      cookieText = r.cookie
      keys.set(.cookie, key)
    }
    take(&emailText, &keys, .email, email)
    take(&phoneText, &keys, .phone, r.phoneNumber)
    take(&stateText, &keys, .state, r.location.state)
    take(&countryText, &keys, .country, r.location.country)
    take(&cityText, &keys, .city, r.location.city)
    take(&ageValue, &keys, .age, r.demographics.age)
    take(&genderText, &keys, .gender, r.demographics.gender)
    take(&incomeText, &keys, .income, r.demographics.income)
    take(&educationText, &keys, .education, r.demographics.education)
    // A new profile's interests grow once, not an allocation per doubling.
    if interests.isEmpty { interests.reserveCapacity(r.interests.count) }
    for (position, interest) in r.interests.enumerated() {
      addInterest(InterestSource(spelling: interest, key: key, position: position))
    }
  }

  private mutating func addInterest(_ source: InterestSource) { interests.keepEarliest(source) }

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
    for source in other.interests { addInterest(source) }
    for c in other.cookies where !cookies.contains(c) { cookies.append(c) }
    for e in other.emails where !emails.contains(e) { emails.append(e) }
  }

  /// Interests in first-seen order; past `cap` the oldest are dropped.
  func interestList(cap: Int) -> [String] { interests.shown(cap: cap).map(\.spelling) }

  /// The merged view in the record shape.
  /// - Parameters:
  ///   - cookie: the cookie to show as `data.cookie`; nil shows the latest record's cookie.
  ///   - interestCap: most interests to show.
  func view(cookie shown: String?, interestCap: Int) -> Record {
    Record(
      cookie: shown ?? cookieText, email: emailText, phoneNumber: phoneText,
      createdAt: last.createdAt,
      location: Location(state: stateText, country: countryText, city: cityText),
      demographics: Demographics(age: ageValue, gender: genderText, income: incomeText, education: educationText),
      interests: interestList(cap: interestCap))
  }
}

/// The record keys a profile's fields came from: a small table of the distinct keys and, for each
/// field, its place in the table (four bits each). A field's own `RecordKey` was 16 bytes, ten
/// per profile, nearly always the same one or two; this is 32 bytes (docs/BENCHMARKS.md: a
/// smaller profile slot is fewer pages to fault in while a million profiles are made).
struct FieldKeys: Sendable {
  enum Field: Int, CaseIterable {
    case cookie, email, phone, state, country, city, age, gender, income, education
  }

  /// The table: `head` (place 0), then `rest` (places 1...10).
  private var head: RecordKey
  private var rest: [RecordKey] = []
  /// Each field's place, four bits per field (a field never set is at place 0).
  private var places: UInt64 = 0

  init(_ key: RecordKey) { head = key }

  subscript(_ field: Field) -> RecordKey {
    let place = Int(places >> (4 * UInt64(field.rawValue)) & 0xF)
    return place == 0 ? head : rest[place - 1]
  }

  mutating func set(_ field: Field, _ key: RecordKey) {
    let place = place(of: key)
    let shift = 4 * UInt64(field.rawValue)
    places = places & ~(0xF << shift) | UInt64(place) << shift
  }

  private mutating func place(of key: RecordKey) -> Int {
    if key == head { return 0 }
    if let i = rest.firstIndex(of: key) { return i + 1 }
    // Keys no field points at any more are dropped before the table grows past ten.
    if rest.count >= 10 { compact() }
    rest.append(key)
    return rest.count
  }

  /// Keeps only the keys some field points at.
  private mutating func compact() {
    let keys = Field.allCases.map { self[$0] }
    head = keys[0]
    rest = []
    places = 0
    for (f, key) in keys.enumerated() where key != head {
      var place = rest.firstIndex(of: key).map { $0 + 1 } ?? 0
      if place == 0 {
        rest.append(key)
        place = rest.count
      }
      places |= UInt64(place) << (4 * UInt64(f))
    }
  }
}
