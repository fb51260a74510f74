import PropertyBased
import Testing

@testable import AudienceCore

/// A graph restored from its snapshot is the graph that was saved: same people, same records,
/// same index, and it goes on deciding the same way.
@Suite("Graph snapshots")
struct SnapshotTests {
  static let token = [UInt8](repeating: 7, count: 16)

  /// Random records, with long cookies and emails for some (long strings are written once and
  /// referred to afterwards).
  static func records(_ rng: inout SplitMix64, count: Int) -> [Record] {
    SegmentIndexTests.records(&rng, count: count).map { r in
      var r = r
      if Bool.random(using: &rng) {
        r.cookie = "cookie-long-enough-to-be-shared-" + r.cookie
        r.email = r.email.map { "someone.with.a.long.address+" + $0 }
      }
      return r
    }
  }

  static func restore(_ bytes: [UInt8], _ limits: RecordLimits = .default) throws -> IdentityGraph {
    try bytes.withUnsafeBytes { raw throws(SnapshotError) in try IdentityGraph(snapshot: raw, limits: limits) }
  }

  /// A graph of one profile (a one-slot array, whose two halves both start at 0) or none restores
  /// too: the one-profile snapshot was refused as damaged, and the store replayed.
  @Test(arguments: [0, 1, 2])
  func aGraphOfNoneOrOneProfileRestores(_ n: Int) throws {
    let g = Fixture.graph((0..<n).map { Fixture.record("only\($0)", "o\($0)@x.com", minute: $0) })
    let r = try Self.restore(g.snapshot(token: Self.token))
    #expect(r.profileCount == n && r.recordCount == n)
    #expect(r.user(cookie: "only0")?.summary.emails == (n > 0 ? ["o0@x.com"] : nil))
  }

  @Test func aRestoredGraphIsTheSavedGraph() async {
    await propertyCheck(count: 60, input: Gen.int(in: 0...1_000_000), Gen.int(in: 2...300)) { seed, n in
      var rng = SplitMix64(seed: UInt64(seed))
      let records = Self.records(&rng, count: n)
      var g = Fixture.graph(records)
      g.split(cookie: records.randomElement(using: &rng)!.cookie)
      let live = g.scanMatches(nil)
      if live.count > 2 { g.forget(live[Int.random(in: 0..<live.count, using: &rng)]) }
      let bytes = g.snapshot(token: Self.token)
      guard var r = try? Self.restore(bytes) else {
        Issue.record("seed \(seed): the snapshot did not restore")
        return
      }
      #expect(bytes.withUnsafeBytes { IdentityGraph.snapshotToken($0) } == Self.token)
      #expect(r.profileCount == g.profileCount && r.recordCount == g.recordCount, "seed \(seed)")
      #expect(r.repeatedEmailCount == g.repeatedEmailCount && r.lastSeq == g.lastSeq, "seed \(seed)")
      #expect(r.splitCookies == g.splitCookies, "seed \(seed)")
      #expect(r.repeatedEmails.map { "\($0.email) \($0.cookies)" } == g.repeatedEmails.map { "\($0.email) \($0.cookies)" })
      for seq in 0...g.lastSeq { #expect(r.record(seq) == g.record(seq), "seed \(seed), record \(seq)") }
      for c in Set(records.map(\.cookie)) {
        #expect(r.user(cookie: c) == g.user(cookie: c), "seed \(seed), cookie \(c)")
        #expect(r.emailCohort(of: c) == g.emailCohort(of: c), "seed \(seed), cookie \(c)")
      }
      for _ in 0..<10 {
        let f = SegmentIndexTests.filter(&rng, depth: 0)
        #expect(r.index.evaluate(f, .standard).members == g.index.evaluate(f, .standard).members, "seed \(seed), filter \(f)")
      }
      // And it goes on the same way: new records, and old ones again (duplicates).
      let more = Self.records(&rng, count: n / 2 + 1) + records.prefix(5)
      #expect(Fixture.apply(more, to: &r) == Fixture.apply(more, to: &g), "seed \(seed)")
      for c in Set(more.map(\.cookie)) { #expect(r.user(cookie: c) == g.user(cookie: c), "seed \(seed), cookie \(c)") }
      // The restored index went on too.
      for _ in 0..<10 {
        let f = SegmentIndexTests.filter(&rng, depth: 0)
        #expect(r.index.evaluate(f, .standard).members == r.scanMatches(f), "seed \(seed), filter \(f)")
        #expect(r.index.evaluate(f, .standard).members == g.index.evaluate(f, .standard).members, "seed \(seed), filter \(f)")
      }
    }
  }

  @Test func damagedOrForeignSnapshotsAreRefused() throws {
    var rng = SplitMix64(seed: 3)
    let g = Fixture.graph(Self.records(&rng, count: 200))
    let bytes = g.snapshot(token: Self.token)
    #expect(throws: Never.self) { _ = try Self.restore(bytes) }
    for length in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 300)) {
      #expect(throws: SnapshotError.self, "truncated to \(length)") { _ = try Self.restore(Array(bytes[..<length])) }
    }
    for _ in 0..<300 {
      var damaged = bytes
      damaged[Int.random(in: 0..<bytes.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
      #expect(throws: SnapshotError.self) { _ = try Self.restore(damaged) }
    }
    var other = RecordLimits.default
    other.maxIdentifiersPerProfile = 5
    #expect(throws: SnapshotError.otherLimits) { _ = try Self.restore(bytes, other) }
  }
}
