import Testing

@testable import AudienceCore

@Suite("Split")
struct SplitTests {
  typealias F = Fixture

  /// c1 -a- shared -b- c2: the shared cookie held two people together.
  let records = [
    F.record("c1", "a@x.com", day: 1, age: 25), F.record("shared", "a@x.com", day: 2),
    F.record("shared", "b@x.com", day: 3), F.record("c2", "b@x.com", day: 4, age: 40),
  ]

  @Test func aSplitCookieStandsAloneAndTheRestFallsApartWhereItHeldItTogether() throws {
    var g = F.graph(records)
    #expect(g.profileCount == 1)
    let split = g.split(cookie: "shared")
    let result = try #require(split)
    #expect(result.from == 0)
    #expect(result.profiles.count == 3)
    let own = try #require(g.summary(of: result.profiles[0]))
    #expect(own.cookies == ["shared"])
    #expect(own.emails == [])
    #expect(own.records == 2)
    #expect(g.user(cookie: "c1")?.summary.emails == ["a@x.com"])
    #expect(g.user(cookie: "c2")?.summary.emails == ["b@x.com"])
    #expect(g.user(cookie: "c2")?.data.demographics.age == 40)
    #expect(g.profileCount == 3)
    #expect(g.repeatedEmailCount == 0)
    // It stays apart: a later record of the cookie does not link its email.
    let later = F.apply([F.record("shared", "a@x.com", day: 5)], to: &g)
    guard case .capped(result.profiles[0], let reason) = later[0] else {
      Issue.record("expected a refused link, got \(later)")
      return
    }
    #expect(reason.contains("split off"))
    #expect(g.user(cookie: "c1")?.summary.cookies == ["c1"])
    #expect(g.history(.cookie("shared"))?.entries.allSatisfy { $0.change.contains("split off") } == true)
  }

  @Test func otherLinksKeepTheRestTogether() throws {
    var g = F.graph(records + [F.record("c1", "b@x.com", day: 6)])
    let split = g.split(cookie: "shared")
    let result = try #require(split)
    #expect(result.profiles.count == 2)
    #expect(Set(try #require(g.summary(of: result.profiles[1])).cookies) == ["c1", "c2"])
  }

  @Test func theIndexFollowsTheSplit() throws {
    var g = F.graph(records)
    g.split(cookie: "shared")
    let page = try g.query(CohortQuery(filter: .age(min: 20, max: 30)))
    #expect(page.users.map(\.cookie) == ["c1"])
    #expect(try g.query(CohortQuery(countOnly: true)).total == 3)
  }

  @Test func unknownCookiesAreStillSplitFromNowOn() {
    var g = F.graph(records)
    #expect(g.split(cookie: "new") == nil)
    let outcomes = F.apply([F.record("new", "a@x.com", day: 9)], to: &g)
    guard case .capped = outcomes[0] else {
      Issue.record("expected a refused link, got \(outcomes)")
      return
    }
  }

  @Test func forgettingThePersonForgetsTheSplit() throws {
    var g = F.graph(records)
    let split = g.split(cookie: "shared")
    let result = try #require(split)
    g.forget(result.profiles[0])
    #expect(!g.splitCookies.contains("shared"))
  }
}
