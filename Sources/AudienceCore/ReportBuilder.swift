/// Accumulates the analytics of one segment, user by user, then builds the report.
struct ReportBuilder {
  let query: AnalyzeQuery
  let categories: InterestCategories
  var total = 0
  var countries: [String: Int] = [:]
  var states: [String: Int] = [:]
  var cities: [String: Int] = [:]
  var genders: [String: Int] = [:]
  var education: [String: Int] = [:]
  var incomeLabels: [String: Int] = [:]
  var incomeBands = [Int](repeating: 0, count: ReportBuilder.bandNames.count)
  var incomeUnknown = 0
  var ages = [Int](repeating: 0, count: 131)
  /// Exact spelling -> users.
  var spellings: [String: Int] = [:]
  var categoryCounts: [Int]
  /// Memo: folded interest -> category index (or -1).
  var categoryOf: [String: Int] = [:]
  /// (age, income) -> users, when k-means uses income.
  var pairs: [Pair: Int] = [:]
  let wantsIncome: Bool

  /// An age and an income as the number it is (its fraction too: k-means took the whole part).
  struct Pair: Hashable { var age: Int; var income: Double }

  static let bandNames = ["<25k", "25k-50k", "50k-75k", "75k-100k", "100k-150k", "150k+"]
  static let bandLimits: [Int64] = [25_000, 50_000, 75_000, 100_000, 150_000]

  init(query: AnalyzeQuery, categories: InterestCategories) {
    self.query = query
    self.categories = categories
    self.categoryCounts = [Int](repeating: 0, count: categories.order.count + 1)
    self.wantsIncome = query.features.contains(.income)
  }

  private static func bump(_ d: inout [String: Int], _ key: String?) {
    if let key { d[key, default: 0] += 1 }
  }

  /// Adds one user: the attributes plus its interests as (spelling, folded) pairs.
  mutating func add(
    country: String?, state: String?, city: String?, gender: String?, education edu: String?, income: String?,
    age: Int?, interests: some Sequence<(spelling: String, folded: String)>
  ) {
    total += 1
    Self.bump(&countries, country)
    Self.bump(&states, state)
    Self.bump(&cities, city)
    Self.bump(&genders, gender)
    Self.bump(&education, edu)
    let numericIncome = income.flatMap(Filter.numericIncome)
    if let n = numericIncome {
      incomeBands[Self.bandLimits.firstIndex { n < $0 } ?? Self.bandLimits.count] += 1
    } else if let income {
      incomeLabels[income, default: 0] += 1
    } else {
      incomeUnknown += 1
    }
    if let age, age >= 0, age < ages.count { ages[age] += 1 }
    if wantsIncome, let age, let income, let n = numericIncome { pairs[Pair(age: age, income: Filter.incomeValue(income, whole: n)), default: 0] += 1 }
    var best = Int.max
    for (spelling, folded) in interests {
      spellings[spelling, default: 0] += 1
      let c: Int
      if let memo = categoryOf[folded] {
        c = memo
      } else {
        c = categories.category(ofFolded: folded) ?? -1
        categoryOf[folded] = c
      }
      if c >= 0 { best = min(best, c) }
    }
    categoryCounts[best == Int.max ? categories.order.count : best] += 1
  }

  static func sorted(_ d: [String: Int], limit: Int = .max) -> [NamedCount] {
    Array(d.map { NamedCount($0.key, $0.value) }.sorted { ($1.count, $0.name) < ($0.count, $1.name) }.prefix(limit))
  }

  func build() -> AudienceReport {
    var r = AudienceReport(total: total)
    r.countries = Self.sorted(countries)
    r.states = Self.sorted(states, limit: query.topN)
    // A profile without a city counts as "Unknown" (an "Unknown" city in that entry too), as
    // after the notebook's fillna({'data.location.city': 'Unknown'}).
    var cityCounts = cities
    let withCity = cities.values.reduce(0, +)
    if total > withCity { cityCounts["Unknown", default: 0] += total - withCity }
    r.cities = Self.sorted(cityCounts, limit: query.topN)
    r.genders = Self.sorted(genders)
    r.education = Self.sorted(education)
    // A label spelled as a band or as "Unknown" (pandas' fillna writes it) counts in that entry:
    // two entries of one name would be one key of the JSON report, the last one kept.
    var bands = incomeBands, labels = incomeLabels, unknown = incomeUnknown
    for (i, name) in Self.bandNames.enumerated() { bands[i] += labels.removeValue(forKey: name) ?? 0 }
    unknown += labels.removeValue(forKey: "Unknown") ?? 0
    r.incomeBands = zip(Self.bandNames, bands).map { NamedCount($0, $1) } + Self.sorted(labels) + [NamedCount("Unknown", unknown)]
    // Interests: group spellings case-insensitively; show the most common spelling.
    var groups: [String: (total: Int, spelling: String, best: Int)] = [:]
    for (spelling, n) in spellings {
      let key = Filter.fold(spelling)
      var g = groups[key] ?? (0, spelling, 0)
      g.total += n
      if n > g.best || (n == g.best && spelling < g.spelling) { g.spelling = spelling; g.best = n }
      groups[key] = g
    }
    r.interests = groups.values.map { NamedCount($0.spelling, $0.total) }.sorted { ($1.count, $0.name) < ($0.count, $1.name) }
    r.categories = zip(categories.order + [categories.fallback], categoryCounts).map { NamedCount($0, $1) }
    let ageCounts = ages.enumerated().filter { $0.element > 0 }
    r.withAge = ageCounts.reduce(0) { $0 + $1.element }
    r.ageHistogram = Histogram.equalWidth(ageCounts.map { (Double($0.offset), $0.element) }, bins: query.ageBins)
    if query.k > 0 { r.kmeans = kmeans(ageCounts) }
    return r
  }

  /// Standardizes the features (mean 0, population standard deviation 1, as scikit-learn's
  /// StandardScaler), clusters, and reports centroids in the original units, ordered.
  private func kmeans(_ ageCounts: [(offset: Int, element: Int)]) -> KMeansSummary? {
    var points: [[Double]]
    var weights: [Double]
    if wantsIncome {
      // The pairs seen through the features asked for: with income alone, two ages of one
      // income are one point (k-means then counted a value twice and left a cluster empty).
      var merged: [[Double]: Double] = [:]
      for (pair, n) in pairs {
        merged[query.features.map { $0 == .age ? Double(pair.age) : pair.income }, default: 0] += Double(n)
      }
      let entries = merged.sorted { $0.key.lexicographicallyPrecedes($1.key) }
      points = entries.map(\.key)
      weights = entries.map(\.value)
    } else {
      points = ageCounts.map { [Double($0.offset)] }
      weights = ageCounts.map { Double($0.element) }
    }
    guard !points.isEmpty else { return nil }
    let dims = points[0].count
    let mass = weights.reduce(0, +)
    var mean = [Double](repeating: 0, count: dims), scale = [Double](repeating: 1, count: dims)
    for d in 0..<dims {
      mean[d] = zip(points, weights).reduce(0) { $0 + $1.0[d] * $1.1 } / mass
      let variance = zip(points, weights).reduce(0) { $0 + ($1.0[d] - mean[d]) * ($1.0[d] - mean[d]) * $1.1 } / mass
      scale[d] = variance > 0 ? variance.squareRoot() : 1
    }
    let standardized = points.map { p in (0..<dims).map { (p[$0] - mean[$0]) / scale[$0] } }
    let fit = KMeans(k: query.k).fit(standardized, weights: weights)
    let centroids = fit.centroids.map { c in (0..<dims).map { c[$0] * scale[$0] + mean[$0] } }
    let order = centroids.indices.sorted { centroids[$0].lexicographicallyPrecedes(centroids[$1]) }
    var rank = [Int](repeating: 0, count: order.count)
    for (r, j) in order.enumerated() { rank[j] = r }
    var sizes = [Int](repeating: 0, count: order.count)
    for (i, label) in fit.labels.enumerated() { sizes[rank[label]] += Int(weights[i]) }
    let ageClusters =
      wantsIncome ? [] : fit.labels.enumerated().map { KMeansSummary.AgeCluster(age: Int(points[$0.offset][0]), cluster: rank[$0.element], count: Int(weights[$0.offset])) }
    return KMeansSummary(
      features: query.features, centroids: order.map { centroids[$0] }, sizes: sizes, inertia: fit.inertia,
      ageClusters: ageClusters)
  }
}

extension IdentityGraph {
  /// Computes the notebook's figures over the profiles (or, with a cookie, the cohort's
  /// latest records) that match the query's filter.
  /// - Parameters:
  ///   - query: filter, scope and parameters.
  ///   - categories: interest categories.
  public func analyze(_ query: AnalyzeQuery, categories: InterestCategories) throws(AudienceError) -> AudienceReport {
    try query.validate()
    var b = ReportBuilder(query: query, categories: categories)
    if let cookie = query.cookie {
      for c in emailCohort(of: cookie) {
        guard let r = latestRecord(of: c), query.filter?.matches(cohortRecord(r), categories) ?? true else { continue }
        b.add(
          country: r.location.country, state: r.location.state, city: r.location.city, gender: r.demographics.gender,
          education: r.demographics.education, income: r.demographics.income, age: r.demographics.age,
          interests: r.interests.map { ($0, Filter.fold($0)) })
      }
    } else {
      index.accumulate(index.evaluate(query.filter, categories), into: &b)
    }
    return b.build()
  }
}

extension IdentityGraph {
  /// The same report computed the slow way, profile by profile: the definition the index's
  /// report is tested against.
  func scanReport(_ query: AnalyzeQuery, categories: InterestCategories) -> AudienceReport {
    var b = ReportBuilder(query: query, categories: categories)
    let cap = limits.maxInterestsPerProfile
    for case let p? in profiles where query.filter?.matches(p, categories) ?? true {
      let interests: [(spelling: String, folded: String)] =
        p.interests.count <= cap
        ? p.interests.map { ($0.spelling, $0.spelling.asciiFastLowercased) }
        : p.interestList(cap: cap).map { ($0, Filter.fold($0)) }
      b.add(
        country: p.country?.value, state: p.state?.value, city: p.city?.value, gender: p.gender?.value,
        education: p.education?.value, income: p.income?.value, age: p.age?.value, interests: interests)
    }
    return b.build()
  }
}

extension AudienceReport {
  /// The report over a list of users in the record shape (a store that fetches the segment's
  /// profile views, such as the MongoDB store).
  /// - Parameters:
  ///   - users: the segment's merged views.
  ///   - query: the parameters (its filter was already applied).
  ///   - categories: interest categories.
  public init(users: [Record], query: AnalyzeQuery, categories: InterestCategories) throws(AudienceError) {
    try query.validate()
    var b = ReportBuilder(query: query, categories: categories)
    for r in users {
      b.add(
        country: r.location.country, state: r.location.state, city: r.location.city, gender: r.demographics.gender,
        education: r.demographics.education, income: r.demographics.income, age: r.demographics.age,
        interests: r.interests.map { ($0, Filter.fold($0)) })
    }
    self = b.build()
  }
}

/// A segment described by counts (how many users have each value), what a store that groups in
/// the database (MongoDB's aggregation pipelines) hands to the core to build the report.
public struct SegmentCounts: Sendable {
  public var total = 0
  public var countries: [String: Int] = [:]
  public var states: [String: Int] = [:]
  public var cities: [String: Int] = [:]
  public var genders: [String: Int] = [:]
  public var education: [String: Int] = [:]
  /// Income as stored (a number or a label) -> users; users without income are not counted.
  public var incomes: [String: Int] = [:]
  /// Age -> users.
  public var ages: [Int: Int] = [:]
  /// Each interest spelling (as shown) -> users showing it.
  public var interests: [String: Int] = [:]
  /// Category name (as in `InterestCategories.order`, or the fallback) -> users.
  public var categories: [String: Int] = [:]
  /// (age, income as stored) -> users, for k-means over age and income.
  public var ageIncome: [AgeIncome: Int] = [:]

  public struct AgeIncome: Hashable, Sendable {
    public var age: Int
    public var income: String
    public init(age: Int, income: String) {
      self.age = age
      self.income = income
    }
  }

  public init() {}
}

extension AudienceReport {
  /// The report of a segment given by counts; the same as building it user by user.
  /// - Parameters:
  ///   - counts: the segment's counts.
  ///   - query: the parameters (its filter was already applied).
  ///   - categories: interest categories.
  public init(counts: SegmentCounts, query: AnalyzeQuery, categories: InterestCategories) throws(AudienceError) {
    try query.validate()
    var b = ReportBuilder(query: query, categories: categories)
    b.total = counts.total
    b.countries = counts.countries
    b.states = counts.states
    b.cities = counts.cities
    b.genders = counts.genders
    b.education = counts.education
    var known = 0
    for (text, n) in counts.incomes {
      known += n
      if let v = Filter.numericIncome(text) {
        b.incomeBands[ReportBuilder.bandLimits.firstIndex { v < $0 } ?? ReportBuilder.bandLimits.count] += n
      } else {
        b.incomeLabels[text, default: 0] += n
      }
    }
    b.incomeUnknown = counts.total - known
    for (age, n) in counts.ages where age >= 0 && age < b.ages.count { b.ages[age] += n }
    b.spellings = counts.interests
    let names = categories.order + [categories.fallback]
    for (name, n) in counts.categories {
      if let i = names.firstIndex(of: name) { b.categoryCounts[i] += n }
    }
    if b.wantsIncome {
      for (pair, n) in counts.ageIncome {
        if let v = Filter.incomeValue(pair.income) { b.pairs[ReportBuilder.Pair(age: pair.age, income: v), default: 0] += n }
      }
    }
    self = b.build()
  }
}
