import PropertyBased
import Testing

@testable import AudienceCore

/// A person's records are found by walking their cookies' chains (`RecordLinks`), not by reading
/// every record: the chains must find exactly what reading every record finds, through new
/// records, merges, splits, forgets and a snapshot's restore.
@Suite("Record links")
struct RecordLinksTests {
  /// Whether every live profile's chained records are the records a full read finds.
  static func expectChainsFindEveryRecord(_ g: IdentityGraph, _ context: @autoclosure () -> String) {
    for id in 0..<g.profiles.count where g.profiles[id] != nil {
      let chained = g.chainedRecordSeqs(of: id)
      let scanned = g.recordSeqsScanning(of: id)
      #expect(!scanned.isEmpty, "\(context()), profile \(id) has no record")
      #expect(chained == scanned, "\(context()), profile \(id)")
    }
  }

  @Test func aPersonsRecordsAreTheirCookiesChains() async {
    await propertyCheck(count: 80, input: Gen.int(in: 0...1_000_000), Gen.int(in: 2...120)) { seed, n in
      var rng = SplitMix64(seed: UInt64(seed))
      var g = Fixture.graph(SnapshotTests.records(&rng, count: n))
      Self.expectChainsFindEveryRecord(g, "seed \(seed), loaded")
      for step in 0..<10 {
        let live = (0..<g.profiles.count).filter { g.profiles[$0] != nil }
        switch Int.random(in: 0..<5, using: &rng) {
        case 0:
          // More records: new cookies, and more of known ones (their chains grow).
          Fixture.apply(SnapshotTests.records(&rng, count: n / 3 + 1), to: &g)
        case 1:
          if let id = live.randomElement(using: &rng), let c = g.profiles[id]?.cookies.array.randomElement(using: &rng) {
            g.split(cookie: c)
          }
        case 2:
          if let id = live.randomElement(using: &rng) { g.forget(id) }
        case 3:
          // A forget's erased records leave nothing in the chains for a later split to meet.
          if let id = live.randomElement(using: &rng), let c = g.profiles[id]?.cookies.array.first {
            g.forget(id)
            Fixture.apply([Fixture.record(c, nil, minute: 9_000 + step)], to: &g)
          }
        default:
          guard let restored = try? SnapshotTests.restore(g.snapshot(token: SnapshotTests.token)) else {
            Issue.record("seed \(seed): the snapshot did not restore")
            return
          }
          g = restored
        }
        Self.expectChainsFindEveryRecord(g, "seed \(seed), step \(step)")
      }
    }
  }

  /// An erased record's link goes with it: nothing says which erased records went together.
  @Test func aForgetLeavesNoLinkBehind() {
    var g = Fixture.graph([
      Fixture.record("a", "a@x", minute: 1), Fixture.record("b", "b@x", minute: 2), Fixture.record("a", "a@x", minute: 3),
      Fixture.record("a", nil, minute: 4),
    ])
    let id = g.cookies["a"]!.profile
    #expect(g.recordSeqs(of: id) == [1, 3, 4])
    g.forget(id)
    var found: [UInt64] = []
    for seq in [1, 3, 4] as [UInt64] { g.recordLinks.seqs(first: seq, into: &found) }
    #expect(found.isEmpty)
    #expect(g.recordSeqs(of: g.cookies["b"]!.profile) == [2])
  }
}
