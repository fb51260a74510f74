/// A string attribute a filter can compare.
public enum StringField: String, Hashable, Sendable, CaseIterable {
  case gender, country, state, city, education
}

/// A boolean tree of predicates over a user. String comparisons are case-insensitive
/// (Unicode-aware); values are folded when the filter is built.
public indirect enum Filter: Hashable, Sendable {
  case all([Filter])
  case any([Filter])
  case not(Filter)
  /// Inclusive; a nil bound is open.
  case age(min: Int64?, max: Int64?)
  /// Matches when the field equals one of the (folded) values.
  case field(StringField, Set<String>)
  /// Inclusive numeric range over incomes that are numbers; labels never match.
  case income(min: Int64?, max: Int64?)
  case interestsAny([String])
  case interestsAll([String])
  case interestsNone([String])
  /// The profile's interest category (folded names; the fallback name for profiles in none).
  case category(Set<String>)
  /// When the first record was created, in seconds since the epoch; inclusive, nil open.
  case created(min: Int64?, max: Int64?)
  /// When the latest record was created, likewise.
  case seen(min: Int64?, max: Int64?)
  /// Whether the profile has an email seen with two or more cookies.
  case cohort(Bool)
  /// Non-numeric income labels, folded.
  case incomeLabel(Set<String>)

  /// A string predicate with its values folded for comparison.
  /// - Parameters:
  ///   - field: the attribute.
  ///   - values: accepted values, any case.
  public static func strings(_ field: StringField, _ values: [String]) -> Filter {
    .field(field, Set(values.map(fold)))
  }

  /// Interest predicates, values folded.
  /// - Parameters:
  ///   - values: interests, any case.
  public static func interests(any values: [String]) -> Filter { .interestsAny(values.map(fold)) }
  /// - Parameters:
  ///   - values: interests, any case.
  public static func interests(all values: [String]) -> Filter { .interestsAll(values.map(fold)) }
  /// - Parameters:
  ///   - values: interests, any case.
  public static func interests(none values: [String]) -> Filter { .interestsNone(values.map(fold)) }

  /// Category predicate, names folded.
  /// - Parameters:
  ///   - names: category names, any case.
  public static func categories(_ names: [String]) -> Filter { .category(Set(names.map(fold))) }

  /// Income label predicate, labels folded.
  /// - Parameters:
  ///   - labels: labels, any case.
  public static func incomeLabels(_ labels: [String]) -> Filter { .incomeLabel(Set(labels.map(fold))) }

  /// Case folding used for every comparison.
  static func fold(_ s: String) -> String { s.trimmingWhitespace().lowercased() }

  /// Whether a user matches.
  /// - Parameters:
  ///   - subject: the user's attributes.
  ///   - categories: the interest categories `category` predicates use.
  func matches(_ s: some FilterSubject, _ categories: InterestCategories) -> Bool {
    func within(_ v: Int64?, _ lo: Int64?, _ hi: Int64?) -> Bool {
      guard let v else { return false }
      return (lo.map { v >= $0 } ?? true) && (hi.map { v <= $0 } ?? true)
    }
    switch self {
    case .all(let fs): return fs.allSatisfy { $0.matches(s, categories) }
    case .any(let fs): return fs.contains { $0.matches(s, categories) }
    case .not(let f): return !f.matches(s, categories)
    case .age(let lo, let hi):
      guard let age = s.ageValue.map(Int64.init) else { return false }
      return (lo.map { age >= $0 } ?? true) && (hi.map { age <= $0 } ?? true)
    case .field(let field, let values):
      guard let v = s.value(field) else { return false }
      return values.contains(Filter.fold(v))
    case .income(let lo, let hi):
      // Exactly, as the index compares (a Double rounds incomes past 2^53).
      guard let text = s.incomeText, let whole = Filter.numericIncome(text) else { return false }
      return Filter.income(whole: whole, fraction: Filter.hasFraction(text), within: lo, hi)
    case .interestsAny(let xs): return xs.contains { s.hasInterest(folded: $0) }
    case .interestsAll(let xs): return xs.allSatisfy { s.hasInterest(folded: $0) }
    case .interestsNone(let xs): return !xs.contains { s.hasInterest(folded: $0) }
    case .category(let names):
      let best = s.foldedInterests.compactMap { categories.category(ofFolded: $0) }.min()
      return names.contains(Filter.fold(best.map { categories.order[$0] } ?? categories.fallback))
    case .created(let lo, let hi): return within(s.createdSeconds, lo, hi)
    case .seen(let lo, let hi): return within(s.seenSeconds, lo, hi)
    case .cohort(let member): return s.inCohort == member
    case .incomeLabel(let labels):
      guard let text = s.incomeText, Filter.numericIncome(text) == nil else { return false }
      return labels.contains(Filter.fold(text))
    }
  }

  /// Whether an income of whole part `whole`, plus a fraction when `fraction`, is within whole
  /// bounds, inclusive, exactly: at least `lo` when the whole part is; at most `hi` when the
  /// whole part is below it, or equal without a fraction.
  static func income(whole: Int64, fraction: Bool, within lo: Int64?, _ hi: Int64?) -> Bool {
    (lo.map { whole >= $0 } ?? true) && (hi.map { whole < $0 || (whole == $0 && !fraction) } ?? true)
  }

  /// Whether a numeric income has a fraction that is not zero ("100.9"; not "100.0").
  static func hasFraction(_ text: String) -> Bool {
    var inFraction = false
    for c in text.utf8 {
      if c == 0x2E { inFraction = true } else if inFraction, (0x31...0x39).contains(c) { return true }
    }
    return false
  }

  /// An income as the number it is, decimals included (`numericIncome`'s rules: digits with
  /// optional `$`, `,`, `_`, spaces and one point); nil when it is not a number.
  /// - Parameters:
  ///   - text: the income as sent.
  public static func incomeValue(_ text: String) -> Double? {
    numericIncome(text).map { incomeValue(text, whole: $0) }
  }

  /// `incomeValue` of an income whose whole part (`numericIncome`) is known.
  static func incomeValue(_ text: String, whole: Int64) -> Double {
    guard hasFraction(text) else { return Double(whole) }
    // The digits and the point, read as one number (correctly rounded, as Python's float()).
    var plain: [UInt8] = []
    for c in text.utf8 where (0x30...0x39).contains(c) || c == 0x2E { plain.append(c) }
    return Double(String(decoding: plain, as: UTF8.self)) ?? Double(whole)
  }

  /// An income as a whole number: digits with optional `$`, `,`, `_`, spaces and decimals.
  /// - Parameters:
  ///   - text: the income as sent.
  public static func numericIncome(_ text: String) -> Int64? {
    var value: Int64 = 0
    var digits = 0
    var fraction = false
    for c in text.utf8 {
      switch c {
      case 0x30...0x39:
        if fraction { continue }
        let (m, o1) = value.multipliedReportingOverflow(by: 10)
        let (a, o2) = m.addingReportingOverflow(Int64(c - 0x30))
        if o1 || o2 { return nil }
        value = a; digits += 1
      case 0x2E: if fraction { return nil }; fraction = true
      case 0x24, 0x2C, 0x5F, 0x20: continue
      default: return nil
      }
    }
    return digits > 0 ? value : nil
  }
}

/// The attributes a filter reads.
protocol FilterSubject {
  var ageValue: Int? { get }
  var incomeText: String? { get }
  func value(_ field: StringField) -> String?
  func hasInterest(folded: String) -> Bool
  var foldedInterests: [String] { get }
  var createdSeconds: Int64? { get }
  var seenSeconds: Int64? { get }
  var inCohort: Bool { get }
}

extension Profile: FilterSubject {
  func value(_ field: StringField) -> String? {
    switch field {
    case .gender: gender?.value
    case .country: country?.value
    case .state: state?.value
    case .city: city?.value
    case .education: education?.value
    }
  }
  func hasInterest(folded: String) -> Bool { interests[spelling: folded] != nil }
  var foldedInterests: [String] { Array(interests.keys) }
  var createdSeconds: Int64? { first.createdAt.seconds }
  var seenSeconds: Int64? { last.createdAt.seconds }
}

/// A profile as filters see it past the interest cap: its kept interests only (the latest
/// `cap` by first occurrence, as shown and indexed).
struct InterestCapped: FilterSubject {
  let profile: Profile
  let kept: Set<String>

  init(_ profile: Profile, cap: Int) {
    self.profile = profile
    kept = Set(profile.interests.shown(cap: cap).map(\.spelling.asciiFastLowercased))
  }

  var ageValue: Int? { profile.ageValue }
  var incomeText: String? { profile.incomeText }
  func value(_ field: StringField) -> String? { profile.value(field) }
  func hasInterest(folded: String) -> Bool { kept.contains(folded) }
  var foldedInterests: [String] { Array(kept) }
  var createdSeconds: Int64? { profile.createdSeconds }
  var seenSeconds: Int64? { profile.seenSeconds }
  var inCohort: Bool { profile.inCohort }
}

/// A record in a cookie's email cohort (the original route), with what the graph knows of it.
struct CohortRecord: FilterSubject {
  var record: Record
  var inCohort: Bool

  var ageValue: Int? { record.demographics.age }
  var incomeText: String? { record.demographics.income }
  func value(_ field: StringField) -> String? { record.value(field) }
  func hasInterest(folded: String) -> Bool { record.interests.contains { Filter.fold($0) == folded } }
  var foldedInterests: [String] { record.interests.map(Filter.fold) }
  var createdSeconds: Int64? { record.createdAt?.seconds }
  var seenSeconds: Int64? { record.createdAt?.seconds }
}

extension Record {
  func value(_ field: StringField) -> String? {
    switch field {
    case .gender: demographics.gender
    case .country: location.country
    case .state: location.state
    case .city: location.city
    case .education: demographics.education
    }
  }
}
