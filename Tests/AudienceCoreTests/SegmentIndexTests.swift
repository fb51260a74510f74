import PropertyBased
import Testing

@testable import AudienceCore

/// The columnar index answers exactly what testing each profile in turn answers.
@Suite("Segment index")
struct SegmentIndexTests {
  static let countries = ["USA", "usa", "India", "Canada", "UK", "Ünited Kingdom"]
  static let genders = ["Male", "Female", "Non-binary"]
  static let cities = (0..<40).map { "City\($0)" }
  static let incomes = ["30000", "$45,000", "75000", "120000", "High", "Low", "250000.50"]
  static let interests = ["Gaming", "gaming", "AI", "Crypto", "Cricket", "Tech", "Drama", "Stock Market", "Yoga", "Football"]

  static func records(_ rng: inout SplitMix64, count: Int) -> [Record] {
    (0..<count).map { i in
      func pick<T>(_ xs: [T]) -> T? { Int.random(in: 0..<6, using: &rng) == 0 ? nil : xs.randomElement(using: &rng) }
      let emailPool = max(1, count * 2 / 3)
      let interestCount = Int.random(in: 0...4, using: &rng)
      return Fixture.record(
        "c\(Int.random(in: 0..<(count * 3 / 4 + 1), using: &rng))",
        Int.random(in: 0..<5, using: &rng) == 0 ? nil : "e\(Int.random(in: 0..<emailPool, using: &rng))@x",
        day: Int.random(in: 1...28, using: &rng), minute: i,
        age: Int.random(in: 0..<8, using: &rng) == 0 ? nil : Int.random(in: 0...130, using: &rng),
        gender: pick(genders), country: pick(countries), city: pick(cities), income: pick(incomes),
        interests: (0..<interestCount).map { _ in interests.randomElement(using: &rng)! })
    }
  }

  static func filter(_ rng: inout SplitMix64, depth: Int) -> Filter {
    let leafOnly = depth >= 3
    switch Int.random(in: leafOnly ? 3..<16 : 0..<16, using: &rng) {
    case 0: return .all((0..<Int.random(in: 0...3, using: &rng)).map { _ in filter(&rng, depth: depth + 1) })
    case 1: return .any((0..<Int.random(in: 0...3, using: &rng)).map { _ in filter(&rng, depth: depth + 1) })
    case 2: return .not(filter(&rng, depth: depth + 1))
    case 3:
      let lo = Int64.random(in: -10...140, using: &rng)
      return .age(min: Bool.random(using: &rng) ? lo : nil, max: Bool.random(using: &rng) ? lo + Int64.random(in: -5...60, using: &rng) : nil)
    case 4: return .strings(.country, (0..<Int.random(in: 0...2, using: &rng)).map { _ in countries.randomElement(using: &rng)!.uppercased() })
    case 5: return .strings(.gender, [genders.randomElement(using: &rng)!.lowercased()])
    case 6: return .strings(.city, (0..<Int.random(in: 1...5, using: &rng)).map { _ in cities.randomElement(using: &rng)! } + ["Nowhere"])
    case 7:
      let lo = Int64.random(in: 0...150_000, using: &rng)
      return .income(min: Bool.random(using: &rng) ? lo : nil, max: Bool.random(using: &rng) ? lo + 60_000 : nil)
    case 8: return .interests(any: (0..<Int.random(in: 0...3, using: &rng)).map { _ in interests.randomElement(using: &rng)!.uppercased() })
    case 9: return .interests(all: (0..<Int.random(in: 0...2, using: &rng)).map { _ in interests.randomElement(using: &rng)! })
    case 10: return .interests(none: (0..<Int.random(in: 0...2, using: &rng)).map { _ in interests.randomElement(using: &rng)! })
    case 11: return .categories((0..<Int.random(in: 1...2, using: &rng)).map { _ in ["Sports", "tech", "MOVIES", "Finance", "Other"].randomElement(using: &rng)! })
    case 12, 13:
      let lo = Fixture.time(Int.random(in: 1...28, using: &rng)).seconds
      let hi = lo + Int64.random(in: 0...(10 * 86_400), using: &rng)
      let (a, b) = (Bool.random(using: &rng) ? lo : nil, Bool.random(using: &rng) ? hi : nil)
      return Bool.random(using: &rng) ? .created(min: a, max: b) : .seen(min: a, max: b)
    case 14: return .cohort(Bool.random(using: &rng))
    default: return .incomeLabels([["high", "LOW", "75000", "none"].randomElement(using: &rng)!])
    }
  }

  @Test func indexMatchesABruteForceScan() async {
    await propertyCheck(count: 150, input: Gen.int(in: 0...1_000_000), Gen.int(in: 1...400)) { seed, n in
      var rng = SplitMix64(seed: UInt64(seed))
      let g = Fixture.graph(Self.records(&rng, count: n))
      for _ in 0..<20 {
        let f = Self.filter(&rng, depth: 0)
        #expect(g.index.evaluate(f, .standard).members == g.scanMatches(f), "seed \(seed), n \(n), filter \(f)")
      }
      #expect(g.index.evaluate(nil, .standard).members == g.scanMatches(nil))
      #expect(g.index.evaluate(nil, .standard).count == g.profileCount)
    }
  }

  /// An income with a fraction is compared as the number it is against whole bounds: 100.9 is
  /// within 100..101 and 101.., not within 100..100 or ..100 (it was read as 100); in the index,
  /// in a scan, and in a planned query alike.
  @Test func incomesWithAFractionAreComparedExactly() throws {
    let g = Fixture.graph(["100.9", "100", "101", "$100.00", "99.99"].enumerated().map { i, income in
      Fixture.record("i\(i)", nil, day: 1, minute: i, income: income)
    })
    let cookie = { (id: ProfileID) in g.profile(id)!.cookies.first! }
    for (lo, hi, expected) in [
      (100, 100, ["i1", "i3"]), (100, 101, ["i0", "i1", "i2", "i3"]), (101, nil, ["i2"]), (nil, 100, ["i1", "i3", "i4"]),
      (100, nil, ["i0", "i1", "i2", "i3"]), (99, 99, []),
    ] as [(Int64?, Int64?, [String])] {
      let f = Filter.income(min: lo, max: hi)
      #expect(g.index.evaluate(f, .standard).members.map(cookie).sorted() == expected, "\(f)")
      #expect(g.scanMatches(f).map(cookie).sorted() == expected, "\(f)")
      let page = try g.query(CohortQuery(filter: .all([f, .income(min: nil, max: nil)]), limit: 10), categories: .standard)
      #expect(page.users.map(\.cookie).sorted() == expected, "\(f)")
    }
    #expect(throws: AudienceError.self) { try FilterExpression.parse("income:100.9") }
    #expect(try FilterExpression.parse("income:1,500,000") == .income(min: 1_500_000, max: 1_500_000))
  }

  /// `income:12k` matches an income of 12000 and one spelled "12k" (a label: no amount matched it).
  @Test func anAmountWithASuffixAlsoMatchesItsSpelling() throws {
    let g = Fixture.graph(["12k", "12000", "12K", "13k"].enumerated().map { i, income in
      Fixture.record("k\(i)", nil, day: 1, minute: i, income: income)
    })
    let f = try FilterExpression.parse("income:12k")
    #expect(f == .any([.income(min: 12_000, max: 12_000), .incomeLabels(["12k"])]))
    let cookie = { (id: ProfileID) in g.profile(id)!.cookies.first! }
    #expect(g.index.evaluate(f, .standard).members.map(cookie).sorted() == ["k0", "k1", "k2"])
    #expect(g.scanMatches(f).map(cookie).sorted() == ["k0", "k1", "k2"])
  }

  /// A writer may keep the index up to date elsewhere while it applies records (detached, the
  /// changes handed over in slices): the index it attaches back is the one applying in place gives.
  @Test func aDetachedIndexFedInSlicesMatchesTheScan() async {
    await propertyCheck(count: 100, input: Gen.int(in: 0...1_000_000), Gen.int(in: 1...400), Gen.int(in: 1...50)) { seed, n, slice in
      var rng = SplitMix64(seed: UInt64(seed))
      let records = Self.records(&rng, count: n)
      let split = Int.random(in: 0...n, using: &rng)
      var g = Fixture.graph(Array(records[..<split]))
      var detached = g.detachIndex()
      for (i, r) in records[split...].enumerated() {
        Fixture.apply([r], to: &g)
        if i % slice == slice - 1 { detached.apply(g.takeIndexChanges()) }
      }
      detached.apply(g.takeIndexChanges())
      g.attach(detached)
      for _ in 0..<20 {
        let f = Self.filter(&rng, depth: 0)
        #expect(g.index.evaluate(f, .standard).members == g.scanMatches(f), "seed \(seed), n \(n), filter \(f)")
      }
      #expect(g.index.evaluate(nil, .standard).members == g.scanMatches(nil))
    }
  }

  /// While detached, the index leaves its posting sets behind and brings them up to date when it
  /// is attached again, or when it catches up meanwhile (SegmentIndex+Deferred.swift): after any
  /// number of rounds and catch-ups, each posting set holds exactly the profiles an index kept up
  /// to date record by record holds.
  @Test func postingSetsCaughtUpAfterDetachedRoundsEqualTheOnesKeptInStep() async {
    await propertyCheck(count: 100, input: Gen.int(in: 0...1_000_000), Gen.int(in: 1...400), Gen.int(in: 1...4)) { seed, n, rounds in
      var rng = SplitMix64(seed: UInt64(seed))
      let records = Self.records(&rng, count: n)
      let inStep = Fixture.graph(records)
      var cuts = (0..<rounds).map { _ in Int.random(in: 0...n, using: &rng) }.sorted()
      cuts.append(n)
      var g = Fixture.graph(Array(records[..<cuts[0]]))
      for (from, to) in zip(cuts, cuts.dropFirst()) {
        var detached = g.detachIndex()
        // Within a round, the indexer may catch up any number of times (writes paused) and go on.
        var at = from
        while at < to {
          let next = Swift.min(to, at + Int.random(in: 1...Swift.max(1, n / 3), using: &rng))
          Fixture.apply(Array(records[at..<next]), to: &g)
          detached.apply(g.takeIndexChanges())
          if Bool.random(using: &rng) { detached.catchUp() }
          at = next
        }
        g.attach(detached.take())
        #expect(g.index.deferred == nil)
        #expect(detached.index.universe == 0, "take() leaves an empty index behind")
      }
      let (a, b) = (g.index, inStep.index)
      #expect(a.universe == b.universe && a.alive == b.alive && a.codes == b.codes && a.ages == b.ages && a.interestCodes == b.interestCodes)
      for c in SegmentIndex.Column.allCases.map(\.rawValue) {
        #expect(a.postings[c].map(\.members) == b.postings[c].map(\.members), "seed \(seed), column \(c)")
        #expect(a.postings[c].map(\.count) == a.postings[c].map(\.members.count), "seed \(seed), column \(c)")
      }
      #expect(a.agePostings.map(\.members) == b.agePostings.map(\.members), "seed \(seed)")
      #expect(a.interestPostings.map(\.members) == b.interestPostings.map(\.members), "seed \(seed)")
    }
  }

  @Test func reportFromTheIndexEqualsTheScannedReport() async throws {
    await propertyCheck(count: 60, input: Gen.int(in: 0...1_000_000), Gen.int(in: 1...400)) { seed, n in
      var rng = SplitMix64(seed: UInt64(seed))
      let g = Fixture.graph(Self.records(&rng, count: n))
      for f in [nil, Self.filter(&rng, depth: 0), Self.filter(&rng, depth: 1)] {
        for features: [KMeansFeature] in [[.age], [.age, .income]] {
          let q = AnalyzeQuery(filter: f, topN: 5, ageBins: 7, k: 3, features: features)
          #expect(try! g.analyze(q, categories: .standard) == g.scanReport(q, categories: .standard), "seed \(seed) filter \(String(describing: f))")
        }
      }
    }
  }

  @Test func postingSetsSwitchRepresentationAndKeepTheirMembers() {
    var set = PostingSet()
    let universe = 10_000
    var expected = Set<Int>()
    var rng = SplitMix64(seed: 7)
    for _ in 0..<5_000 {
      let id = Int.random(in: 0..<universe, using: &rng)
      set.insert(id, universe: universe)
      expected.insert(id)
    }
    #expect(set.isDense)
    #expect(set.count == expected.count)
    for id in expected.shuffled(using: &rng).prefix(expected.count - 30) {
      set.remove(id, universe: universe)
      expected.remove(id)
    }
    #expect(!set.isDense)
    #expect(set.count == expected.count)
    #expect(set.bitmap(capacity: universe).members == expected.sorted())
    set.insert(3, universe: universe)
    set.insert(3, universe: universe)
    set.remove(99_999, universe: universe)
    #expect(set.count == expected.union([3]).count)
  }

  @Test func bitmapIterationStartsAfterTheCursor() {
    var b = Bitmap()
    for i in [0, 1, 63, 64, 65, 127, 128, 1000] { b.insert(i) }
    var seen: [Int] = []
    b.forEach(after: 63) { seen.append($0); return seen.count < 4 }
    #expect(seen == [64, 65, 127, 128])
    #expect(Bitmap.full(130).count == 130)
    #expect(b.intersectionCount(.full(65)) == 4)  // 0, 1, 63, 64
  }

  @Test func mergesLeaveTheIndex() {
    var g = IdentityGraph()
    Fixture.apply(
      [
        Fixture.record("a", "a@x", age: 30, country: "USA", interests: ["Gaming"]),
        Fixture.record("b", "b@x", minute: 1, age: 40, country: "India", interests: ["AI"]),
        Fixture.record("b", "a@x", minute: 2),
      ], to: &g)
    #expect(g.profileCount == 1)
    #expect(g.index.evaluate(nil, .standard).members == [0])
    #expect(g.index.evaluate(.strings(.country, ["india"]), .standard).members == [0])
    #expect(g.index.evaluate(.strings(.country, ["usa"]), .standard).members == [])
    #expect(g.index.evaluate(.interests(all: ["gaming", "ai"]), .standard).members == [0])
    #expect(g.index.evaluate(.age(min: 30, max: 30), .standard).members == [])
  }
}

extension PostingSet {
  /// The members, whichever the representation.
  var members: [Int] { bits?.members ?? ids.map(Int.init) }
}
