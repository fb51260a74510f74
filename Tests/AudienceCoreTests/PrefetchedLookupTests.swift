import PropertyBased
import Testing

@testable import AudienceCore

/// The leader's look-ahead (IdentityGraph+Prefetch.swift): records applied with the hashes taken
/// before, their buckets prefetched, build the graph applying them plainly builds.
@Suite("Prefetched lookups")
struct PrefetchedLookupTests {
  @Test func hashesTakenAheadBuildTheSameGraph() async {
    await propertyCheck(count: 200, input: Gen.int(in: 0...1_000_000), Gen.int(in: 1...60)) { seed, count in
      let records = OrderIndependenceTests.records(seed: seed, count: count)
      var plain = IdentityGraph()
      var ahead = IdentityGraph()
      let hashes = records.map(IdentityGraph.LookupHashes.init)
      for (n, record) in records.enumerated() {
        let seq = UInt64(n + 1)
        let id = ContentID(of: record)
        if n + 2 < count { ahead.prefetch(hashes[n + 2]) }
        ahead.prefetchClaim(hash: id.tableHash)
        let claimed = (plain.claim(id, seq: seq), ahead.claim(id, hash: id.tableHash, seq: seq))
        #expect(claimed.0 == claimed.1, "seed \(seed), record \(n)")
        guard claimed.0 else { continue }
        let outcomes = (plain.applyNew(record, seq: seq), ahead.applyNew(record, seq: seq, hashes: hashes[n]))
        #expect(outcomes.0 == outcomes.1, "seed \(seed), record \(n)")
      }
      #expect(OrderIndependenceTests.canon(plain) == OrderIndependenceTests.canon(ahead), "seed \(seed)")
      // Every identifier is found again by its string alone.
      for record in records {
        let cookie = (ahead.cookies[record.cookie]?.profile, plain.cookies[record.cookie]?.profile)
        #expect(cookie.0 != nil && cookie.0 == cookie.1, "seed \(seed)")
        guard let email = record.email else { continue }
        let byEmail = (ahead.emails[email]?.profile, plain.emails[email]?.profile)
        #expect(byEmail.0 == byEmail.1, "seed \(seed)")
      }
    }
  }

  /// The hashes taken ahead are the ones the tables hold: records applied with them find the
  /// cookie and the email a record applied without them stored.
  @Test func hashesTakenAheadFindWhatAPlainApplyStored() {
    var g = IdentityGraph()
    let records = [Fixture.record("c1", "a@x"), Fixture.record("c2", "a@x", day: 2), Fixture.record("c1", day: 3)]
    var outcomes: [IngestOutcome] = []
    for (n, r) in records.enumerated() {
      let seq = UInt64(n + 1)
      guard g.claim(ContentID(of: r), seq: seq) else { continue }
      outcomes.append(n == 0 ? g.applyNew(r, seq: seq) : g.applyNew(r, seq: seq, hashes: .init(r)))
    }
    #expect(outcomes == [.created(0), .updated(0), .updated(0)])
  }
}
