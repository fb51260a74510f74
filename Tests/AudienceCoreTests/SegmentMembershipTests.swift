import PropertyBased
import Testing

@testable import AudienceCore

/// A live segment replayed from its changes always equals the segment computed afresh.
@Suite("Live segment membership")
struct SegmentMembershipTests {
  /// `n` random records, a random segment (nil: everyone), and how many records come before the
  /// watch starts.
  static func scenario(_ rng: inout SplitMix64, _ n: Int) -> (records: [Record], filter: Filter?, start: Int) {
    let records = SegmentIndexTests.records(&rng, count: n)
    let filter = Bool.random(using: &rng) ? nil : SegmentIndexTests.filter(&rng, depth: 0)
    return (records, filter, Int.random(in: 0..<n, using: &rng))
  }

  @Test func changesReplayToTheFreshSegment() async {
    await propertyCheck(count: 120, input: Gen.int(in: 0...1_000_000), Gen.int(in: 2...300)) { seed, n in
      var rng = SplitMix64(seed: UInt64(seed))
      let (records, filter, start) = Self.scenario(&rng, n)
      var g = Fixture.graph(Array(records[..<start]))
      var live = SegmentMembership(filter, categories: .standard, in: g)
      var members = Set(g.scanMatches(filter))
      #expect(live.count == members.count)
      var rest = records[start...]
      while !rest.isEmpty {
        let batch = rest.prefix(Int.random(in: 1...8, using: &rng))
        rest = rest.dropFirst(batch.count)
        let outcomes = Fixture.apply(Array(batch), to: &g)
        var touched = Set<ProfileID>()
        for change in live.update(after: outcomes, in: g) {
          switch change {
          case .enter(let id, let profile):
            #expect(members.insert(id).inserted, "seed \(seed): \(id) entered twice")
            #expect(profile == g.profiles[id]!.view(cookie: nil, interestCap: g.limits.maxInterestsPerProfile))
            #expect(touched.insert(id).inserted, "seed \(seed): \(id) reported twice in one batch")
          case .leave(let id, let profile, let into):
            #expect(members.remove(id) != nil, "seed \(seed): \(id) left without being in")
            #expect((profile == nil) == (into != nil))
            if profile == nil { #expect(g.profiles[id] == nil, "merged profile \(id) is still live") }
            #expect(touched.insert(id).inserted, "seed \(seed): \(id) reported twice in one batch")
          case .forgotten(let id):
            Issue.record("update reported \(id) as forgotten")
          }
        }
        #expect(members == Set(g.scanMatches(filter)), "seed \(seed), n \(n), filter \(String(describing: filter))")
        #expect(live.count == members.count)
      }
    }
  }

  /// Past the interest cap the oldest interests are matched no more, by watches as by queries
  /// (a watch matched every interest: it let in a profile a query did not return, and never
  /// let out one whose interest was dropped).
  @Test func watchesFollowTheInterestCap() {
    var limits = RecordLimits()
    limits.maxInterestsPerProfile = 3
    var g = IdentityGraph(limits: limits)
    var q0 = SegmentMembership(.interests(any: ["q0"]), categories: .standard, in: g)
    var notQ0 = SegmentMembership(.all([.not(.interests(any: ["q0"])), .interests(any: ["q1"])]), categories: .standard, in: g)
    let o1 = Fixture.apply([Fixture.record("cap", nil, day: 1, interests: ["Q0", "Q1", "Q2", "Q3"])], to: &g)
    #expect(q0.update(after: o1, in: g).isEmpty)  // Q0 is the one dropped
    #expect(notQ0.update(after: o1, in: g).map { if case .enter = $0 { true } else { false } } == [true])
    #expect(g.index.evaluate(.interests(any: ["q0"]), .standard).count == 0)
    #expect(g.scanMatches(.interests(any: ["q0"])).isEmpty)
    // A profile in by an interest that a later record pushes out leaves.
    var q1 = SegmentMembership(.interests(any: ["q1"]), categories: .standard, in: g)
    #expect(q1.count == 1)
    let o2 = Fixture.apply([Fixture.record("cap", nil, day: 2, interests: ["Q4"])], to: &g)
    #expect(q1.update(after: o2, in: g).map { if case .leave = $0 { true } else { false } } == [true])
  }

  /// Incomes past 2^53 are compared exactly, by watches as by the index (a Double rounded
  /// 9007199254740993 down to the bound).
  @Test func largeIncomesAreComparedExactly() {
    var g = IdentityGraph()
    var live = SegmentMembership(.income(min: nil, max: 9_007_199_254_740_992), categories: .standard, in: g)
    let o = Fixture.apply([Fixture.record("big", nil, day: 1, income: "9007199254740993"), Fixture.record("edge", nil, day: 1, income: "9007199254740992.5")], to: &g)
    #expect(live.update(after: o, in: g).isEmpty)
    #expect(g.index.evaluate(.income(min: nil, max: 9_007_199_254_740_992), .standard).count == 0)
    #expect(Filter.income(min: 100, max: 100).matches(g.profiles[0]!, .standard) == false)
  }

  @Test func aMergeReportsTheAbsorbedProfileAsLeavingIntoTheSurvivor() {
    var g = Fixture.graph([
      Fixture.record("a", "a@x", day: 1, age: 25, interests: ["Gaming"]),
      Fixture.record("b", "b@x", day: 2, age: 26, interests: ["Gaming"]),
    ])
    var live = SegmentMembership(.interests(any: ["gaming"]), categories: .standard, in: g)
    #expect(live.count == 2)
    // A record joining cookie b to email a@x merges profile 1 into profile 0.
    let outcomes = Fixture.apply([Fixture.record("b", "a@x", day: 3, age: 26)], to: &g)
    #expect(live.update(after: outcomes, in: g) == [.leave(1, profile: nil, mergedInto: 0)])
    #expect(live.count == 1)
  }
}

/// A watch whose reader falls behind remembers who changed and, drained, brings the reader to
/// the segment as it is: the reader's set (the start, then every change it was given) equals the
/// fresh segment once the backlog is drained, however the changes, erasures, splits and drains
/// interleave (it was ended with RESOURCE_EXHAUSTED instead).
@Suite("Live segment backlog")
struct SegmentBacklogTests {
  @Test func aDrainedBacklogReplaysToTheFreshSegment() async {
    await propertyCheck(count: 150, input: Gen.int(in: 0...1_000_000), Gen.int(in: 2...300)) { seed, n in
      var rng = SplitMix64(seed: UInt64(seed))
      let (records, filter, start) = SegmentMembershipTests.scenario(&rng, n)
      var g = Fixture.graph(Array(records[..<start]))
      var live = SegmentMembership(filter, categories: .standard, in: g)
      var reader = Set(g.scanMatches(filter))  // what the reader was told
      let cap = g.limits.maxInterestsPerProfile
      // How profiles went away: merged into which, erased, split.
      var mergedInto: [ProfileID: ProfileID] = [:]
      var erased = Set<ProfileID>(), split = Set<ProfileID>()
      /// Gives the reader changes, checking each against what it knows (and a drained ENTER's
      /// view against the profile now).
      func read(_ changes: [SegmentChange], drained: Bool = false) {
        for change in changes {
          switch change {
          case .enter(let id, let profile):
            #expect(reader.insert(id).inserted, "seed \(seed): \(id) entered twice")
            if drained { #expect(profile == g.profiles[id]?.view(cookie: nil, interestCap: cap), "seed \(seed): \(id)'s view is not today's") }
          case .leave(let id, let profile, let into):
            #expect(reader.remove(id) != nil, "seed \(seed): \(id) left without being in")
            if profile == nil {
              // A LEAVE without data says a merge, and into which profile.
              #expect(into != nil && mergedInto[id] == into, "seed \(seed): \(id) said merged into \(String(describing: into)), was \(String(describing: mergedInto[id]))")
            } else if g.profiles[id] == nil {
              #expect(split.contains(id), "seed \(seed): \(id) is gone, and left with data but was not split")
            }
          case .forgotten(let id):
            #expect(reader.remove(id) != nil, "seed \(seed): \(id) left without being in")
            #expect(erased.contains(id), "seed \(seed): \(id) said forgotten, was not")
          }
        }
      }
      var rest = records[start...]
      while !rest.isEmpty {
        let batch = rest.prefix(Int.random(in: 1...8, using: &rng))
        rest = rest.dropFirst(batch.count)
        let outcomes = Fixture.apply(Array(batch), to: &g)
        for case .merged(let id, let absorbed) in outcomes { for a in absorbed { mergedInto[a] = id } }
        /// As the store does after each commit, erasure or split: the changes go to the reader,
        /// or, when the queue is "full" (at random), they are the backlog's first.
        func deliver(_ changes: [SegmentChange]) {
          if live.isBehind { #expect(changes.isEmpty, "seed \(seed): changes queued while behind") }
          if !live.isBehind && Int.random(in: 0..<4, using: &rng) == 0 {
            live.fallBehind(with: changes)
          } else {
            read(changes)
          }
        }
        deliver(live.update(after: outcomes, in: g))
        // Now and then an erasure or a split of a random profile's cookie.
        switch Int.random(in: 0..<12, using: &rng) {
        case 0:
          if let id = g.profiles.indices.filter({ g.profiles[$0] != nil }).randomElement(using: &rng) {
            _ = g.forget(id)
            erased.insert(id)
            deliver(live.forgotten(id).map { [$0] } ?? [])
          }
        case 1:
          if let id = g.profiles.indices.filter({ g.profiles[$0] != nil }).randomElement(using: &rng),
            let before = g.view(of: id), let result = g.split(cookie: before.cookie)
          {
            if g.profiles[result.from] == nil { split.insert(result.from) }
            deliver(live.update(after: result, before: before, in: g))
          }
        default: break
        }
        if live.isBehind && Bool.random(using: &rng) {
          read(live.drain(upTo: Int.random(in: 1...5, using: &rng), in: g), drained: true)
        }
        #expect(live.count == Set(g.scanMatches(filter)).count)
      }
      var rounds = 0
      while live.isBehind {
        read(live.drain(upTo: 3, in: g), drained: true)
        rounds += 1
        #expect(rounds < 10_000)
      }
      #expect(reader == Set(g.scanMatches(filter)), "seed \(seed), n \(n), filter \(String(describing: filter))")
    }
  }

  /// The changes of a merge, an erasure and a split the reader missed arrive as such when the
  /// members they concern are gone: LEAVE into the survivor, FORGOTTEN, LEAVE with the view.
  @Test func goneMembersLeaveAsTheyLeft() {
    var g = Fixture.graph([
      Fixture.record("a", "a@x", day: 1, interests: ["Gaming"]),
      Fixture.record("b", "b@x", day: 2, interests: ["Gaming"]),
      Fixture.record("c", "c@x", day: 3, interests: ["Gaming"]),
    ])
    var live = SegmentMembership(.interests(any: ["gaming"]), categories: .standard, in: g)
    live.fallBehind(with: [])
    #expect(!live.isBehind)  // nothing to remember: nothing is behind
    let merge = live.update(after: Fixture.apply([Fixture.record("b", "a@x", day: 4)], to: &g), in: g)
    live.fallBehind(with: merge)
    #expect(live.isBehind)
    _ = g.forget(2)
    #expect(live.forgotten(2) == nil)
    let entered = live.update(after: Fixture.apply([Fixture.record("d", "d@x", day: 5, interests: ["Gaming"])], to: &g), in: g)
    #expect(entered.isEmpty)
    let drained = live.drain(upTo: 10, in: g)
    #expect(drained.count == 3)
    #expect(drained[0] == .leave(1, profile: nil, mergedInto: 0))
    #expect(drained[1] == .forgotten(2))
    if case .enter(3, let view) = drained[2] { #expect(view.cookie == "d") } else { Issue.record("\(drained[2])") }
    #expect(!live.isBehind)
  }
}
