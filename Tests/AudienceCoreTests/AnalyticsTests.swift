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

  @Test func kmeansIsDeterministicAndFindsSeparatedClusters() {
    let points: [[Double]] = [[0], [1], [2], [10], [11], [12], [20], [21]]
    let w = [Double](repeating: 1, count: points.count)
    let a = KMeans(k: 3).fit(points, weights: w)
    let b = KMeans(k: 3).fit(points, weights: w)
    #expect(a.centroids == b.centroids)
    #expect(Set(a.centroids.map { $0[0] }) == [1, 11, 20.5])
    #expect(abs(a.inertia - 4.5) < 1e-9)
  }

  @Test func badParametersAreInvalidArgument() {
    let g = IdentityGraph()
    #expect(throws: AudienceError.self) { try g.analyze(AnalyzeQuery(ageBins: 0), categories: .standard) }
    #expect(throws: AudienceError.self) { try g.analyze(AnalyzeQuery(k: 21), categories: .standard) }
    #expect(throws: AudienceError.self) { try g.analyze(AnalyzeQuery(features: []), categories: .standard) }
  }
}
