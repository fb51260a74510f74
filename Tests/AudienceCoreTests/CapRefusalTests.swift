import Testing

@testable import AudienceCore

/// Cap decisions replayed as they were made (IdentityGraph+CapRefusals.swift).
@Suite("Cap refusals")
struct CapRefusalTests {
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

  /// Each refusal is noted with its record and application: 0 when stored, the split's number
  /// when a split's rebuild refuses it again; taking them empties the list.
  @Test func refusalsAreNotedWhereTheyAreMade() {
    var g = IdentityGraph(limits: Self.capThree)
    Fixture.apply(Self.records, to: &g)
    #expect(g.takeCapRefusals() == [.init(seq: 3, application: 0)])
    #expect(g.takeCapRefusals() == [])
    // Splitting q2 rebuilds profile 1: q1's record is refused again, in the split's
    // application; the split cookie's own record is the split's to refuse, not the cap's.
    #expect(g.split(cookie: "q2", application: 7) != nil)
    #expect(g.takeCapRefusals() == [.init(seq: 3, application: 7)])
    // Splitting p2 leaves p1 with room: q1's profile is not rebuilt, nothing is refused.
    #expect(g.split(cookie: "p2", application: 8) != nil)
    #expect(g.takeCapRefusals() == [])
  }

  /// After profile 0 is erased, a replay of what is left refuses q1's link as it was refused:
  /// profile 1 does not gain the email, and a later record carrying it starts a profile of its
  /// own, in the live graph and in the replay alike. Without the refusal, the replay links it.
  @Test func aReplayRefusesWhatWasRefused() {
    var live = IdentityGraph(limits: Self.capThree)
    Fixture.apply(Self.records, to: &live)
    let refusals = live.takeCapRefusals()
    live.forget(0)
    for frozen in [true, false] {
      var replayed = IdentityGraph(limits: Self.capThree)
      if frozen { replayed.freezeCapRefusals(refusals) }
      replayed.reserveProfileID(0)
      replayed.beginReplay()
      for seq in 3...5 {
        let r = Self.records[seq - 1]
        replayed.apply(StoredRecord(seq: UInt64(seq), contentID: ContentID(of: r), record: r))
      }
      replayed.finishReplay()
      #expect(replayed.frozenCapRefusals.isEmpty)
      #expect((replayed.summary(of: 1)?.emails == ["f@x"]) == frozen, "frozen: \(frozen)")
    }
    #expect(live.summary(of: 1)?.emails == ["f@x"])
  }
}
