import Testing

@testable import AudienceCore

@Suite("Identity rules")
struct IdentityRulesTests {
  typealias F = Fixture

  @Test func sharedEmailJoinsAProfile() {
    var g = IdentityGraph()
    let o = F.apply([F.record("a", "x@e.com", day: 1), F.record("b", "x@e.com", day: 2)], to: &g)
    #expect(o == [.created(0), .updated(0)])
    #expect(g.user(cookie: "b")?.summary.cookies == ["a", "b"])
    #expect(g.profileCount == 1)
    #expect(g.repeatedEmailCount == 1)
  }

  /// The identifier cap: links past it are refused, reported, and replay decides the same.
  @Test func linksPastTheIdentifierCapAreRefused() {
    var limits = RecordLimits()
    limits.maxIdentifiersPerProfile = 3
    var g = IdentityGraph(limits: limits)
    let records = [
      F.record("a", "x@e.com", day: 1),  // {a, x}: 2 identifiers
      F.record("b", "x@e.com", day: 2),  // {a, b, x}: 3
      F.record("c", "x@e.com", day: 3),  // a 4th would pass the cap: c stays apart, without x
      F.record("d", "y@e.com", day: 4),  // {d, y}
      F.record("d", "x@e.com", day: 5),  // merging {a, b, x} and {d, y} would hold 5
      F.record("a", "z@e.com", day: 6),  // a new email for a full profile
    ]
    let o = F.apply(records, to: &g)
    #expect(o[0] == .created(0) && o[1] == .updated(0))
    guard case .capped(let c, let reason) = o[2] else { Issue.record("\(o[2])"); return }
    #expect(c == 1 && reason.contains("cap of 3") == false && reason.contains("cap 3"))
    guard case .capped(2, let merge) = o[4] else { Issue.record("\(o[4])"); return }
    #expect(merge.contains("past the cap of 3"))
    guard case .capped(0, _) = o[5] else { Issue.record("\(o[5])"); return }
    #expect(g.user(cookie: "c")?.summary.emails == [])
    #expect(g.user(cookie: "a")?.summary.emails == ["x@e.com"])
    #expect(g.user(cookie: "d")?.summary.emails == ["y@e.com"])
    #expect(g.profileCount == 3)
    // The records are kept whole (export shows them), and a replay decides the same.
    #expect(g.export(.cookie("c"))?.records.first?.email == "x@e.com")
    var replay = IdentityGraph(limits: limits)
    #expect(F.apply(records, to: &replay) == o)
  }

  /// A link the cap refused shows as refused in the history: replayed alone, the profile's own
  /// records had room for it, and the history said "new profile: cookie c, email x@e.com" while
  /// the profile had no email.
  @Test func historyShowsALinkTheCapRefusedAsRefused() {
    var limits = RecordLimits()
    limits.maxIdentifiersPerProfile = 3
    var g = IdentityGraph(limits: limits)
    F.apply([F.record("a", "x@e.com", day: 1), F.record("b", "x@e.com", day: 2), F.record("c", "x@e.com", day: 3), F.record("c", nil, day: 4)], to: &g)
    #expect(g.user(cookie: "c")?.summary.emails == [])
    let h = try! #require(g.history(.cookie("c")))
    #expect(h.entries.count == 2)
    #expect(h.entries[0].change == IdentityGraph.frozenCapRefusal, "\(h.entries)")
    #expect(h.entries[1].change == "no new identifier", "\(h.entries)")
    // The profile that has the email tells its own history as before.
    #expect(g.history(.email("x@e.com"))?.entries.map(\.change) == ["new profile: cookie a, email x@e.com", "added cookie b"])
  }

  @Test func historyTellsWhichRecordBroughtWhat() {
    var g = IdentityGraph()
    F.apply(
      [
        F.record("a", "x@e.com", day: 1), F.record("b", "y@e.com", day: 2), F.record("other", "o@e.com", day: 2),
        F.record("b", "x@e.com", day: 3), F.record("a", nil, day: 4),
      ], to: &g)
    let h = g.history(.cookie("b"))!
    #expect(h.summary.cookies.sorted() == ["a", "b"])
    #expect(
      h.entries.map(\.change) == [
        "new profile: cookie a, email x@e.com", "new profile: cookie b, email y@e.com",
        "merged the profile of cookie b (linked by cookie b and email x@e.com)", "no new identifier",
      ])
    #expect(h.entries.map(\.record.cookie) == ["a", "b", "b", "a"])
    #expect(g.history(.email("nobody@e.com")) == nil)
  }

  @Test func linkingRecordMergesIntoTheOlderProfile() {
    var g = IdentityGraph()
    let o = F.apply(
      [F.record("a", "x@e.com", day: 1), F.record("b", "y@e.com", day: 2), F.record("b", "x@e.com", day: 3)], to: &g)
    #expect(o == [.created(0), .created(1), .merged(0, absorbed: [1])])
    let u = g.user(cookie: "b")!
    #expect(u.summary.id == 0)
    #expect(Set(u.summary.cookies) == ["a", "b"])
    #expect(Set(u.summary.emails) == ["x@e.com", "y@e.com"])
    #expect(g.profileCount == 1)
    #expect(g.profile(1) == nil)
  }

  @Test func chainOfLinksIsOneComponent() {
    var g = IdentityGraph()
    F.apply(
      [F.record("a", "1@e"), F.record("b", "2@e"), F.record("c", "3@e"), F.record("c", "2@e", day: 2),
       F.record("a", "3@e", day: 3)], to: &g)
    #expect(g.profileCount == 1)
    #expect(Set(g.user(cookie: "a")!.summary.cookies) == ["a", "b", "c"])
  }

  @Test func latestRecordWinsPerFieldAndMissingFieldsDoNotErase() {
    let g = F.graph([
      F.record("a", "x@e", day: 5, age: 30, gender: "Male", country: "USA"),
      F.record("a", "x@e", day: 1, age: 20, gender: "Female", country: "Canada", city: "Toronto"),
      F.record("a", nil, day: 9, age: 31),
    ])
    let d = g.user(cookie: "a")!.data
    #expect(d.demographics.age == 31)
    #expect(d.demographics.gender == "Male")
    #expect(d.location.country == "USA")
    #expect(d.location.city == "Toronto")
    #expect(d.email == "x@e")
    #expect(d.createdAt == F.time(9))
  }

  @Test func exactTiesGoToTheLaterIngest() {
    let g = F.graph([F.record("a", day: 2, age: 40), F.record("a", day: 2, age: 41)])
    #expect(g.user(cookie: "a")!.data.demographics.age == 41)
  }

  @Test func emailIsTheLatestRecordsEmail() {
    let g = F.graph([F.record("a", "old@e", day: 1), F.record("a", "new@e", day: 2)])
    #expect(g.user(cookie: "a")!.data.email == "new@e")
  }

  @Test func interestsAreAUnionInFirstSeenSpellingAndOrder() {
    let g = F.graph([
      F.record("a", "x@e", day: 3, interests: ["gaming", "Music"]),
      F.record("b", "x@e", day: 1, interests: ["Tech", "Gaming"]),
      F.record("a", "x@e", day: 2, interests: ["AI", "tech"]),
    ])
    #expect(g.user(cookie: "a")!.data.interests == ["Tech", "Gaming", "AI", "Music"])
  }

  @Test func interestCapDropsTheOldest() {
    var g = IdentityGraph(limits: RecordLimits(maxInterestsPerProfile: 3))
    F.apply([F.record("a", day: 1, interests: ["i1", "i2"]), F.record("a", day: 2, interests: ["i3", "i4"])], to: &g)
    #expect(g.user(cookie: "a")!.data.interests == ["i2", "i3", "i4"])
    // The index holds the interests shown: past the cap, the dropped one matches no more.
    #expect(g.index.evaluate(.interestsAny(["i1"]), .standard).members == [])
    #expect(g.index.evaluate(.interestsAll(["i2", "i4"]), .standard).members == [0])
    // Within the cap it holds them all (the profile's own set, shared).
    F.apply([F.record("b", day: 3, interests: ["i5", "I5", "i6"])], to: &g)
    #expect(g.index.evaluate(.interestsAll(["i5", "i6"]), .standard).members == [1])
  }

  @Test func identicalRecordIsANoOp() {
    var g = IdentityGraph()
    let r = F.record("a", "x@e", age: 3, interests: ["T"])
    let o = F.apply([r, r], to: &g)
    #expect(o == [.created(0), .duplicate(0)])
    #expect(g.recordCount == 1)
    #expect(g.user(cookie: "a")!.summary.records == 1)
  }

  @Test func cookieCohortRouteUsesEachCookiesLatestRecord() throws {
    let g = F.graph([
      F.record("a", "x@e", day: 1, age: 25, interests: ["Gaming"]),
      F.record("b", "x@e", day: 2, age: 35, interests: ["Gaming"]),
      F.record("b", "y@e", day: 4, age: 28, interests: ["gaming"]),
      F.record("c", "y@e", day: 3, age: 22, interests: ["Gaming"]),
      F.record("d", "z@e", day: 3, age: 22, interests: ["Gaming"]),
    ])
    let page = try g.query(CohortQuery(filter: .all([.age(min: 20, max: 30), .interests(any: ["Gaming"])]), cookie: "a"))
    // a shares x@e with b; b's latest record (day 4, age 28) matches; c shares no email with a.
    #expect(page.users.map(\.cookie) == ["a", "b"])
    #expect(page.users[1].demographics.age == 28)
    #expect(page.total == 2)
  }

  @Test func repeatedEmailsAreListed() {
    let g = F.graph([F.record("a", "x@e"), F.record("b", "x@e"), F.record("c", "y@e")])
    #expect(g.repeatedEmails.map(\.email) == ["x@e"])
    #expect(g.user(cookie: "c")!.summary.repeatedEmails == [])
    #expect(g.user(cookie: "a")!.summary.repeatedEmails == ["x@e"])
  }
}
