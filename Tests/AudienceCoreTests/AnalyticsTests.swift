import PropertyBased
import Testing

@testable import AudienceCore

@Suite("Analytics")
struct AnalyticsTests {
  typealias F = Fixture

  @Test func histogramMatchesNumPy() {
    // np.histogram([1, 2, 2, 3, 10], bins=3) -> counts [4, 0, 1], edges [1, 4, 7, 10]
    let h = Histogram.equalWidth([(1, 1), (2, 2), (3, 1), (10, 1)], bins: 3)
    #expect(h.map(\.count) == [4, 0, 1])
    #expect(h.map(\.from) == [1, 4, 7])
    #expect(h.last?.to == 10)
    // One distinct value: numpy widens to [v - 0.5, v + 0.5].
    let one = Histogram.equalWidth([(30, 5)], bins: 2)
    #expect(one.map(\.count) == [0, 5])
    #expect(one.first?.from == 29.5)
    #expect(Histogram.equalWidth([], bins: 20).isEmpty)
  }

  @Test func categoriesFollowTheirOrder() {
    let c = InterestCategories.standard
    #expect(c.category(of: ["Drama", "Cricket"]) == "Sports")
    #expect(c.category(of: [" STOCK MARKET "]) == "Finance")
    #expect(c.category(of: ["Cooking"]) == "Other")
    #expect(c.category(of: []) == "Other")
  }

  @Test func categoriesFromJSON() throws {
    let json = try JSONValue(parsing: #"{"order": ["B", "A"], "categories": {"A": ["x"], "B": ["x", "y"]}, "fallback": "None"}"#)
    let c = try InterestCategories(json: json)
    #expect(c.category(of: ["X"]) == "B")
    #expect(c.category(of: ["z"]) == "None")
    #expect(throws: AudienceError.self) { try InterestCategories(json: JSONValue(parsing: #"{"order": ["Q"], "categories": {}}"#)) }
    // The original file, its _comment included, reads as the standard categories.
    let original = #"{"_comment": "rules", "order": ["Sports", "Tech", "Movies", "Finance"], "categories": {"Sports": ["sports", "football", "basketball", "cricket", "tennis"], "Tech": ["tech", "ai", "gadgets", "programming", "blockchain"], "Movies": ["movies", "hollywood", "bollywood", "action", "drama"], "Finance": ["finance", "stock market", "investment", "banking", "crypto"]}, "fallback": "Other"}"#
    #expect(try InterestCategories(json: JSONValue(parsing: original)) == .standard)
  }

  /// A malformed categories file is refused, naming the key (these were taken silently: an
  /// `order` or `fallback` of the wrong type ignored, repeated names made Analyze's JSON repeat
  /// keys, a category left out of `order` counted under the fallback).
  @Test(arguments: [
    (#"{"order": "Fun", "categories": {"Fun": ["gaming"]}}"#, "order"),
    (#"{"categories": {"Fun": ["gaming"]}, "fallback": 5}"#, "fallback"),
    (#"{"categories": {"Fun": ["gaming"]}, "fallback": " "}"#, "fallback"),
    (#"{"categories": {"Fun": ["gaming"]}, "fallback": "Fun"}"#, "fallback"),
    (#"{"categories": {"Other": ["gaming"]}}"#, "fallback"),
    (#"{"order": ["Fun", "Fun", "Money"], "categories": {"Money": ["crypto"], "Fun": ["gaming"]}}"#, "order"),
    (#"{"order": ["Fun"], "categories": {"Money": ["crypto"], "Fun": ["gaming"]}}"#, "order"),
    (#"{"categories": {"Fun": ["gaming"], "Fun": ["games"]}}"#, "categories.Fun"),
    (#"{"categories": {"": ["gaming"]}}"#, "categories"),
    (#"{"categories": {"Fun": ["gaming"]}, "fallbak": "None"}"#, "fallbak"),
    (#"["Fun"]"#, "categories file"),
  ])
  func malformedCategoriesAreRefused(_ text: String, _ key: String) throws {
    let json = try JSONValue(parsing: text)
    #expect {
      try InterestCategories(json: json)
    } throws: { error in
      (error as? AudienceError)?.field == key
    }
  }

  @Test func reportCountsEachProfileOnce() throws {
    let g = F.graph([
      F.record("a", "x@e", day: 1, age: 20, gender: "Male", country: "USA", interests: ["Gaming", "Tech"]),
      F.record("b", "x@e", day: 2, age: 21, interests: ["gaming"]),
      F.record("c", "y@e", day: 1, age: 60, gender: "Female", country: "USA", income: "120000", interests: ["gaming"]),
      F.record("d", "z@e", day: 1, age: 61, gender: "Female", country: "India", income: "Low", interests: ["Cooking"]),
    ])
    let r = try g.analyze(AnalyzeQuery(k: 2), categories: .standard)
    #expect(r.total == 3)
    #expect(r.countries == [NamedCount("USA", 2), NamedCount("India", 1)])
    #expect(r.genders == [NamedCount("Female", 2), NamedCount("Male", 1)])
    #expect(r.interests.first == NamedCount("Gaming", 2))
    #expect(r.interests.contains(NamedCount("Tech", 1)))
    #expect(r.categories.map(\.count) == [0, 1, 0, 0, 2])
    #expect(r.incomeBands.first { $0.name == "100k-150k" }?.count == 1)
    #expect(r.incomeBands.first { $0.name == "Low" }?.count == 1)
    #expect(r.incomeBands.last == NamedCount("Unknown", 1))
    let km = try #require(r.kmeans)
    #expect(km.centroids.map { $0[0] } == [21, 60.5])
    #expect(km.sizes == [1, 2])
    #expect(km.ageClusters.map(\.cluster) == [0, 1, 1])
  }

  /// An income written as a band's name or "Unknown" (what pandas' fillna leaves) counts in that
  /// entry: the report had two entries of one name, and its JSON kept only the last.
  @Test func incomeLabelsNamedLikeABandJoinIt() throws {
    let g = F.graph([
      F.record("a", nil, income: "Unknown"), F.record("b", nil, income: "Unknown"), F.record("c", nil),
      F.record("d", nil, income: "<25k"), F.record("e", nil, income: "20000"), F.record("f", nil, income: "High"),
    ])
    let r = try g.analyze(AnalyzeQuery(k: 1), categories: .standard)
    #expect(Set(r.incomeBands.map(\.name)).count == r.incomeBands.count, "\(r.incomeBands)")
    #expect(r.incomeBands.first { $0.name == "<25k" }?.count == 2)
    #expect(r.incomeBands.first { $0.name == "High" }?.count == 1)
    #expect(r.incomeBands.last == NamedCount("Unknown", 3))
    #expect(r.incomeBands.map(\.count).reduce(0, +) == r.total)
  }

  /// A profile without a city counts as "Unknown", as after the notebook's fillna (it did for
  /// income, not for cities).
  @Test func aMissingCityCountsAsUnknown() throws {
    let g = F.graph([F.record("a", nil, city: "Paris"), F.record("b", nil, city: "Unknown"), F.record("c", nil, country: "USA")])
    let r = try g.analyze(AnalyzeQuery(k: 1), categories: .standard)
    #expect(r.cities == [NamedCount("Unknown", 2), NamedCount("Paris", 1)])
  }

  @Test func kmeansIsDeterministicAndFindsSeparatedClusters() {
    let points: [[Double]] = [[0], [1], [2], [10], [11], [12], [20], [21]]
    let w = [Double](repeating: 1, count: points.count)
    let a = KMeans(k: 3).fit(points, weights: w)
    let b = KMeans(k: 3).fit(points, weights: w)
    #expect(a.centroids == b.centroids)
    #expect(Set(a.centroids.map { $0[0] }) == [1, 11, 20.5])
    #expect(abs(a.inertia - 4.5) < 1e-9)
  }

  /// In one dimension k-means is the optimum: on these 11 ages Lloyd's algorithm from every one
  /// of its 10 seedings stopped at centroids 21.4, 56 and 78.6 (inertia 0.8735), scikit-learn at
  /// 14, 40.33 and 78.6 (0.8211), which is the least there is.
  @Test func kmeansInOneDimensionIsTheOptimum() throws {
    let ages = [33, 74, 73, 86, 80, 56, 21, 32, 3, 18, 80]
    let g = F.graph(ages.enumerated().map { F.record("k\($0.offset)", nil, age: $0.element) })
    let km = try #require(try g.analyze(AnalyzeQuery(k: 3), categories: .standard).kmeans)
    #expect(km.centroids.map { ($0[0] * 100).rounded() / 100 } == [14, 40.33, 78.6])
    #expect(km.sizes == [3, 3, 5])
    #expect(abs(km.inertia - 0.8210690798412961) < 1e-9)
  }

  /// The optimum is no worse than any split into runs (all of them, for small inputs) and no
  /// worse than Lloyd's best of 10 seedings.
  @Test func kmeansInOneDimensionBeatsEverySplit() async {
    await propertyCheck(count: 300, input: Gen.int(in: 0...1_000_000)) { seed in
      var rng = SplitMix64(seed: UInt64(seed))
      let n = Int.random(in: 1...9, using: &rng)
      let values = Array(Set((0..<n).map { _ in Double(Int.random(in: -50...50, using: &rng)) / 7 })).sorted()
      let weights = values.map { _ in Double(Int.random(in: 1...5, using: &rng)) }
      let k = Int.random(in: 1...4, using: &rng)
      let fit = KMeans(k: k).fit(values.map { [$0] }, weights: weights)
      #expect(fit.centroids.count == min(k, values.count))
      #expect(Set(fit.labels).count == fit.centroids.count, "seed \(seed): an empty cluster")
      // Every split of the sorted values into min(k, n) runs.
      func inertia(_ cuts: [Int]) -> Double {
        var total = 0.0
        for (a, b) in zip([0] + cuts, cuts + [values.count]) {
          let m = weights[a..<b].reduce(0, +)
          let c = (a..<b).reduce(0) { $0 + weights[$1] * values[$1] } / m
          total += (a..<b).reduce(0) { $0 + weights[$1] * (values[$1] - c) * (values[$1] - c) }
        }
        return total
      }
      func splits(_ from: Int, _ left: Int) -> [[Int]] {
        if left == 0 { return [[]] }
        return (from..<values.count).flatMap { c in splits(c + 1, left - 1).map { [c] + $0 } }
      }
      let least = splits(1, min(k, values.count) - 1).map(inertia).min()!
      #expect(abs(fit.inertia - least) < 1e-9, "seed \(seed): \(fit.inertia) against \(least)")
      var lloyd = KMeans(k: k)
      lloyd.restarts = 10
      let twoD = lloyd.fit(values.map { [$0, 0] }, weights: weights)  // the same points, by Lloyd
      #expect(fit.inertia <= twoD.inertia + 1e-9)
    }
  }

  /// Income keeps its fraction in k-means, and income alone counts distinct incomes (two ages of
  /// one income were two points: k 3 over two incomes left a cluster empty).
  @Test func kmeansOnIncomeUsesItsValueAndItsDistinctValues() throws {
    let g = F.graph([
      F.record("f1", nil, age: 30, income: "50000.75"), F.record("f2", nil, age: 40, income: "$60,000.99"),
      F.record("f3", nil, age: 50, income: "70000.5"),
    ])
    let one = try #require(try g.analyze(AnalyzeQuery(k: 1, features: [.income]), categories: .standard).kmeans)
    #expect(abs(one.centroids[0][0] - (50000.75 + 60000.99 + 70000.5) / 3) < 1e-6)
    let both = try #require(try g.analyze(AnalyzeQuery(k: 1, features: [.age, .income]), categories: .standard).kmeans)
    #expect(abs(both.centroids[0][1] - (50000.75 + 60000.99 + 70000.5) / 3) < 1e-6)
    let h = F.graph([
      F.record("i1", nil, age: 20, income: "50000"), F.record("i2", nil, age: 30, income: "50000"),
      F.record("i3", nil, age: 40, income: "60000"), F.record("i4", nil, age: 50, income: "60000"),
    ])
    let km = try #require(try h.analyze(AnalyzeQuery(k: 3, features: [.income]), categories: .standard).kmeans)
    #expect(km.centroids == [[50000], [60000]])
    #expect(km.sizes == [2, 2])
  }

  @Test func badParametersAreInvalidArgument() {
    let g = IdentityGraph()
    #expect(throws: AudienceError.self) { try g.analyze(AnalyzeQuery(ageBins: 0), categories: .standard) }
    #expect(throws: AudienceError.self) { try g.analyze(AnalyzeQuery(k: 21), categories: .standard) }
    #expect(throws: AudienceError.self) { try g.analyze(AnalyzeQuery(features: []), categories: .standard) }
  }
}
