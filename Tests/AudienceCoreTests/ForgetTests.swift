import PropertyBased
import Testing

@testable import AudienceCore

/// Forgetting a profile removes exactly that person, everywhere, and nobody else.
@Suite("Forget")
struct ForgetTests {
  @Test func forgettingLeavesTheRestExactlyAsIfThePersonHadNeverBeenThere() async {
    await propertyCheck(count: 80, input: Gen.int(in: 0...1_000_000), Gen.int(in: 2...200)) { seed, n in
      var rng = SplitMix64(seed: UInt64(seed))
      let records = SegmentIndexTests.records(&rng, count: n)
      var g = Fixture.graph(records)
      let live = g.scanMatches(nil)
      let victim = live[Int.random(in: 0..<live.count, using: &rng)]
      let gone = g.profile(victim)!
      let others = live.filter { $0 != victim }.map { id in (id, g.profile(id)!.view(cookie: nil, interestCap: 64)) }
      let seqs = g.forget(victim)
      #expect(!seqs.isEmpty)
      #expect(g.profile(victim) == nil)
      for c in gone.cookies { #expect(g.profileID(of: .cookie(c)) == nil) }
      for e in gone.emails { #expect(g.profileID(of: .email(e)) == nil) }
      for seq in seqs { #expect(g.record(seq) == nil) }
      // Everyone else is untouched, and counts and index agree with a rebuild without the victim.
      for (id, view) in others { #expect(g.profile(id)?.view(cookie: nil, interestCap: 64) == view) }
      let survivors = records.filter { !gone.cookies.contains($0.cookie) }
      let rebuilt = Fixture.graph(survivors)
      #expect(g.profileCount == rebuilt.profileCount)
      #expect(g.recordCount == rebuilt.recordCount)
      #expect(g.repeatedEmailCount == rebuilt.repeatedEmailCount, "seed \(seed)")
      for _ in 0..<10 {
        let f = SegmentIndexTests.filter(&rng, depth: 0)
        #expect(g.index.evaluate(f, .standard).members == g.scanMatches(f), "seed \(seed), filter \(f)")
        #expect(g.index.evaluate(f, .standard).count == rebuilt.index.evaluate(f, .standard).count, "seed \(seed), filter \(f)")
      }
      // The person can come back as a new profile.
      Fixture.apply([Fixture.record(gone.cookies[0], gone.emails.first, day: 28, minute: 9999)], to: &g)
      #expect(g.profileID(of: .cookie(gone.cookies[0])) != nil)
    }
  }

  /// An email carried by the records of several cookies, linked to no person: those cookies
  /// may be different people, and the refusal says to run the command for each.
  @Test func anUnlinkedEmailOfSeveralCookiesSaysToRunTheCommandForEach() throws {
    let one = try #require(AudienceError.unlinkedEmail("t@x.com", holders: ["k1"], more: false, blocked: true, command: "forget"))
    #expect(!one.message.contains("for each"))
    let two = try #require(AudienceError.unlinkedEmail("t@x.com", holders: ["k1", "k2"], more: false, blocked: true, command: "forget"))
    #expect(two.message.hasSuffix("each of those cookies may be a different person: run it for each"), "\(two.message)")
    #expect(AudienceError.unlinkedEmail("t@x.com", holders: [], more: false, blocked: false, command: "forget") == nil)
  }
}
