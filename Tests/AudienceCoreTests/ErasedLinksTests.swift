import Testing

@testable import AudienceCore

/// A record whose email link the cap refused keeps it refused once the profile holding the
/// email is erased (IdentityGraph+ErasedLinks.swift): applied again without that profile, it
/// would link the email.
@Suite("Refusals kept after an erasure")
struct ErasedLinksTests {
  static var capThree: RecordLimits {
    var l = RecordLimits.default
    l.maxIdentifiersPerProfile = 3
    return l
  }

  /// p1, p2 and e@x fill profile 0; q1 carrying e@x is refused the link and starts profile 1,
  /// which q2 joins through f@x.
  static let records = [
    Fixture.record("p1", "e@x", day: 1), Fixture.record("p2", "e@x", day: 2), Fixture.record("q1", "e@x", day: 3),
    Fixture.record("q1", "f@x", day: 4), Fixture.record("q2", "f@x", day: 5),
  ]

  /// The live graph after profile 0 is erased, its refusals kept.
  static func erased() -> (IdentityGraph, kept: [UInt64]) {
    var g = IdentityGraph(limits: capThree)
    let outcomes = Fixture.apply(records, to: &g)
    #expect(outcomes[0] == .created(0))
    guard case .capped(1, _) = outcomes[2] else {
      Issue.record("expected the link to be refused, got \(outcomes[2])")
      return (g, [])
    }
    let kept = g.refusedLinks(excluding: 0)
    #expect(kept == [3])
    g.forget(0)
    g.keepRefusals(kept)
    return (g, kept)
  }

  /// A replay of what is left (the erased records gone) builds the live graph: profile 1 does
  /// not gain the email, and a later record carrying it starts a profile of its own in both.
  @Test func aReplayWithoutTheErasedProfileKeepsTheRefusal() {
    var (live, kept) = Self.erased()
    var replayed = IdentityGraph(limits: Self.capThree)
    replayed.restoreKeptRefusals(kept)
    replayed.reserveProfileID(0)
    for seq in 3...5 {
      let r = Self.records[seq - 1]
      replayed.apply(StoredRecord(seq: UInt64(seq), contentID: ContentID(of: r), record: r))
    }
    #expect(live.summary(of: 1)?.emails == ["f@x"])
    #expect(replayed.summary(of: 1)?.emails == ["f@x"])
    let z = Fixture.record("z", "e@x", day: 6)
    let later = StoredRecord(seq: 6, contentID: ContentID(of: z), record: z)
    #expect(live.apply(later) == .created(2))
    #expect(replayed.apply(later) == .created(2))
  }

  /// A split rebuilding the profile (of another cookie, q2), and its history, refuse the email
  /// again.
  @Test func aSplitAndAHistoryKeepTheRefusal() {
    var (g, _) = Self.erased()
    let history = g.history(.cookie("q1"))
    #expect(history?.entries.map(\.change).first == IdentityGraph.keptRefusal)
    #expect(g.split(cookie: "q2") != nil)
    #expect(g.profileID(of: .email("e@x")) == nil)
    #expect(g.profileID(of: .cookie("q1")).flatMap { g.summary(of: $0)?.emails } == ["f@x"])
  }

  /// Erasing the refused record's own profile drops its kept refusal with it.
  @Test func erasingTheRecordDropsItsRefusal() {
    var (g, _) = Self.erased()
    #expect(g.keptRefusals == [3])
    g.forget(1)
    #expect(g.keptRefusals.isEmpty)
  }
}
