import AudienceClient
import AudienceCore
import AudienceWire
import Foundation
import Testing

/// The server keeps each profile's encoded view; whatever changes a profile (a new record, a
/// merge, a forget) must show at once. Checked against the identity graph built in-process from
/// the same records, with a cache small enough that profiles also evict each other.
@Suite("Packed view freshness", .serialized)
struct PackedViewFreshnessTests {
  /// Each case: slots, and bytes the kept views may hold (2,000: about ten views, so most are
  /// packed per request and the budget is reached and freed again).
  @Test(arguments: [("7", "536870912"), ("0", "536870912"), ("1048576", "536870912"), ("1048576", "2000")])
  func readsAlwaysShowTheCurrentProfile(cache: String, bytes: String) async throws {
    let server = ServerProcess(arguments: ["--packed-view-cache", cache, "--packed-view-cache-bytes", bytes])
    try await server.start()
    defer { server.removeFiles() }
    let client = try await server.client()
    var graph = IdentityGraph()
    let normalizer = RecordNormalizer()
    var seq: UInt64 = 0
    var rng = SplitMix64(seed: 42)
    let interests = ["Gaming", "AI", "Crypto", "Golf", "Travel"]
    let filters: [Filter?] = [nil, .interests(any: ["Gaming"]), .age(min: 20, max: 40)]
    var forgotten = 0

    for round in 0..<6 {
      var raws: [RawRecord] = []
      for i in 0..<40 {
        let day = 10 + round
        raws.append(RawRecord(
          cookie: "c\(Int.random(in: 0..<60, using: &rng))",
          email: Bool.random(using: &rng) ? "e\(Int.random(in: 0..<30, using: &rng))@x.com" : "",
          createdAt: "2025-03-\(day)T10:\(String(format: "%02d", i)):00", country: ["USA", "Canada"].randomElement(using: &rng)!,
          age: Int.random(in: 15...60, using: &rng),
          interests: Array(interests.shuffled(using: &rng).prefix(Int.random(in: 0...3, using: &rng)))))
      }
      let summary = try await client.ingest(raws)
      for (raw, outcome) in zip(raws, summary.outcomes) {
        let record = try normalizer.normalize(raw)
        let id = ContentID(of: record)
        if case .duplicate = outcome { continue }
        seq += 1
        graph.apply(StoredRecord(seq: seq, contentID: id, record: record))
      }
      if round == 3, let victim = (0..<60).map({ "c\($0)" }).first(where: { graph.stamp(cookie: $0) != nil }) {
        _ = try await client.forget(.cookie(victim))
        graph.forget(graph.stamp(cookie: victim)!.id)
        forgotten += 1
      }
      // Twice: the second read comes from kept views.
      for _ in 0..<2 {
        for c in (0..<60).map({ "c\($0)" }) {
          if let expected = graph.user(cookie: c) {
            #expect(try await client.user(cookie: c) == expected, "round \(round), \(c)")
          } else {
            await #expect(throws: WireStatus.self) { _ = try await client.user(cookie: c) }
          }
        }
        for filter in filters {
          var cursor: String? = nil
          repeat {
            let q = CohortQuery(filter: filter, limit: 7, cursor: cursor)
            let page = try await client.queryCohort(q)
            #expect(page == (try graph.query(q)), "round \(round), filter \(String(describing: filter))")
            cursor = page.nextCursor
          } while cursor != nil
        }
      }
    }
    #expect(forgotten == 1)
    await client.close()
  }
}
