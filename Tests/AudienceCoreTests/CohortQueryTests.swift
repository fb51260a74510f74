import PropertyBased
import Testing

@testable import AudienceCore

@Suite("QueryCohort")
struct CohortQueryTests {
  typealias F = Fixture

  let graph = F.graph([
    F.record("a", "a@e", day: 1, age: 25, gender: "Male", country: "USA", income: "50000", interests: ["Gaming", "Tech"]),
    F.record("b", "b@e", day: 2, age: 31, gender: "female", country: "usa", income: "High", interests: ["Finance"]),
    F.record("c", "c@e", day: 3, age: 22, gender: "Female", country: "Canada", city: "ÉCOLE", income: "80,000", interests: ["gaming"]),
    F.record("d", "d@e", day: 4, gender: "Male", country: "India", income: "$120000", interests: []),
    F.record("e", "e@e", day: 5, age: 45, gender: "Non-binary", country: "USA", income: "95000.50", interests: ["AI", "Crypto"]),
  ])

  func cookies(_ filter: Filter?) throws -> [String] {
    try graph.query(CohortQuery(filter: filter)).users.map(\.cookie)
  }

  @Test func predicates() throws {
    #expect(try cookies(nil) == ["a", "b", "c", "d", "e"])
    #expect(try cookies(.age(min: 20, max: 30)) == ["a", "c"])
    #expect(try cookies(.age(min: 30, max: nil)) == ["b", "e"])
    #expect(try cookies(.strings(.gender, ["FEMALE"])) == ["b", "c"])
    #expect(try cookies(.strings(.country, ["USA"])) == ["a", "b", "e"])
    #expect(try cookies(.strings(.city, ["école"])) == ["c"])
    #expect(try cookies(.income(min: 50_000, max: 100_000)) == ["a", "c", "e"])
    #expect(try cookies(.income(min: nil, max: 1_000_000)).contains("b") == false)
    #expect(try cookies(.interests(any: ["GAMING", "ai"])) == ["a", "c", "e"])
    #expect(try cookies(.interests(all: ["gaming", "tech"])) == ["a"])
    #expect(try cookies(.interests(none: ["gaming"])) == ["b", "d", "e"])
    #expect(try cookies(.not(.strings(.country, ["usa"]))) == ["c", "d"])
    #expect(try cookies(.any([.strings(.country, ["india"]), .age(min: 40, max: nil)])) == ["d", "e"])
    #expect(try cookies(.all([])) == ["a", "b", "c", "d", "e"])
  }

  @Test func countOnlyAndTotals() throws {
    let p = try graph.query(CohortQuery(filter: .strings(.country, ["usa"]), countOnly: true))
    #expect(p.total == 3)
    #expect(p.users.isEmpty)
  }

  @Test func badCursorAndLimit() {
    #expect(throws: AudienceError.self) { try graph.query(CohortQuery(limit: 0)) }
    #expect(throws: AudienceError.self) { try graph.query(CohortQuery(limit: 10_001)) }
    #expect(throws: AudienceError.self) { try graph.query(CohortQuery(cursor: "zz")) }
    #expect(throws: AudienceError.self) { try graph.query(CohortQuery(cookie: "a", cursor: "p1")) }
  }

  @Test func pagingVisitsEveryMatchOnceEvenWithWritesBetweenPages() async {
    await propertyCheck(count: 100, input: Gen.int(in: 0...1_000_000), Gen.int(in: 1...9)) { seed, limit in
      var rng = SplitMix64(seed: UInt64(seed))
      var g = IdentityGraph()
      F.apply((0..<40).map { i in F.record("c\(i)", "e\(Int.random(in: 0..<25, using: &rng))@x", minute: i) }, to: &g)
      var seen: [String] = []
      var cursor: String?
      var i = 100
      repeat {
        let page = try! g.query(CohortQuery(limit: limit, cursor: cursor))
        seen += page.users.compactMap(\.email)
        cursor = page.nextCursor
        // Writes between the first pages: new people, and links that merge existing ones.
        // (They stop after ten pages, or a limit of 1 would never catch up with new arrivals.)
        if i < 110 {
          F.apply([F.record("n\(i)", "new\(i)@x", minute: i), F.record("m\(i)", "e\(Int.random(in: 0..<25, using: &rng))@x", minute: i)], to: &g)
          F.apply([F.record("link\(i)", "e\(Int.random(in: 0..<25, using: &rng))@x", minute: i)], to: &g)
        }
        i += 1
      } while cursor != nil
      #expect(seen.count == Set(seen).count, "a user appeared twice")
    }
  }

  @Test func filterMatchesBruteForceDefinition() async {
    await propertyCheck(count: 200, input: Gen.int(in: 0...1_000_000)) { seed in
      var rng = SplitMix64(seed: UInt64(seed))
      let lo = Int64.random(in: 0...60, using: &rng)
      let hi = lo + Int64.random(in: 0...40, using: &rng)
      let page = try! graph.query(CohortQuery(filter: .age(min: lo, max: hi)))
      let expected = ["a": 25, "b": 31, "c": 22, "e": 45].filter { Int64($0.value) >= lo && Int64($0.value) <= hi }.keys.sorted()
      #expect(page.users.map(\.cookie) == expected)
      #expect(page.total == expected.count)
    }
  }
}
