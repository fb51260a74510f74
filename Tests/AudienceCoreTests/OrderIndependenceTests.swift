import PropertyBased
import Testing

@testable import AudienceCore

/// Apart from exact created_at ties, profiles do not depend on the order records arrive in.
@Suite("Order independence")
struct OrderIndependenceTests {
  /// A canonical form of every profile: comparable across orders (profile ids may differ).
  struct Canon: Hashable {
    var cookies: Set<String>
    var emails: Set<String>
    var records: Int
    var view: Record
  }

  static func canon(_ g: IdentityGraph) -> Set<Canon> {
    var out = Set<Canon>()
    for case let p? in g.profiles {
      var view = g.user(cookie: p.cookies[0])!.data
      view.cookie = ""
      out.insert(Canon(cookies: Set(p.cookies), emails: Set(p.emails), records: p.recordCount, view: view))
    }
    return out
  }

  static func records(seed: Int, count: Int) -> [Record] {
    var rng = SplitMix64(seed: UInt64(seed))
    let interests = ["Tech", "tech", "Gaming", "AI", "Music", "MUSIC"]
    // Distinct created_at per record: a shuffled set of minutes.
    let minutes = (0..<count).map { $0 * 7 }.shuffled(using: &rng)
    return (0..<count).map { i in
      Record(
        cookie: "c\(Int.random(in: 0..<6, using: &rng))",
        email: Bool.random(using: &rng) ? "e\(Int.random(in: 0..<4, using: &rng))@x" : nil,
        createdAt: Timestamp(seconds: Int64(minutes[i]) * 60),
        location: Location(country: ["USA", "India", nil][Int.random(in: 0..<3, using: &rng)]),
        demographics: Demographics(age: Bool.random(using: &rng) ? Int.random(in: 0...100, using: &rng) : nil),
        interests: (0..<Int.random(in: 0...2, using: &rng)).map { _ in interests.randomElement(using: &rng)! })
    }
  }

  @Test func profilesDoNotDependOnArrivalOrder() async {
    await propertyCheck(count: 300, input: Gen.int(in: 0...1_000_000), Gen.int(in: 1...30)) { seed, count in
      let rs = Self.records(seed: seed, count: count)
      var rng = SplitMix64(seed: UInt64(seed) &+ 1)
      let shuffled = rs.shuffled(using: &rng)
      let a = Fixture.graph(rs)
      let b = Fixture.graph(shuffled)
      #expect(Self.canon(a) == Self.canon(b), "seed \(seed), \(count) records")
      #expect(a.profileCount == b.profileCount)
      #expect(a.repeatedEmailCount == b.repeatedEmailCount)
    }
  }

  @Test func profilesAreConnectedComponents() async {
    await propertyCheck(count: 200, input: Gen.int(in: 0...1_000_000), Gen.int(in: 1...30)) { seed, count in
      let rs = Self.records(seed: seed, count: count)
      let g = Fixture.graph(rs)
      // Reference: union-find over cookies and emails.
      var parent: [String: String] = [:]
      func find(_ x: String) -> String {
        var x = x
        while let p = parent[x], p != x { x = p }
        return x
      }
      for r in rs {
        let c = "c:" + r.cookie
        if parent[c] == nil { parent[c] = c }
        if let e = r.email {
          let k = "e:" + e
          if parent[k] == nil { parent[k] = k }
          parent[find(k)] = find(c)
        }
      }
      let components = Set(parent.keys.filter { $0.hasPrefix("c:") }.map(find))
      #expect(g.profileCount == components.count)
      for r in rs {
        let same = rs.filter { find("c:" + $0.cookie) == find("c:" + r.cookie) }.map(\.cookie)
        #expect(Set(g.user(cookie: r.cookie)!.summary.cookies) == Set(same))
      }
    }
  }
}
