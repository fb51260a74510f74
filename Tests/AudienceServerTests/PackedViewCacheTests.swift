import AudienceCore
import AudienceWire
import NIOCore
import Testing

@testable import AudienceServer

/// The packed-view cache holds at most its byte budget: a view that would pass it is not kept
/// (its profile is packed per request), replacing a view frees the old one's bytes, and a
/// forgotten profile's view gives its bytes back.
@Suite("Packed view cache")
struct PackedViewCacheTests {
  static func packed(_ id: Int, interests: Int, revision: UInt64 = 1) -> (stamp: ProfileStamp, view: PackedView) {
    let summary = ProfileSummary(
      id: id, cookies: ["c\(id)"], emails: [], records: 1, repeatedEmails: [],
      firstSeen: Timestamp(seconds: 0), lastSeen: Timestamp(seconds: 0))
    let record = Record(cookie: "c\(id)", createdAt: Timestamp(seconds: 0), interests: (0..<interests).map { "interest-\($0)" })
    let stamp = ProfileStamp(id: id, revision: revision)
    return (stamp, PackedView(StampedView(stamp: stamp, data: record, summary: summary)))
  }

  static func kept(_ cache: PackedViewCache, _ view: (stamp: ProfileStamp, view: PackedView)) -> Bool {
    var buffer = ByteBuffer()
    return cache.encodeGetUser(id: 1, cookie: "c\(view.stamp.id)", stamp: view.stamp, into: &buffer)
  }

  @Test func viewsKeptStayWithinTheirBytes() {
    let small = (0..<4).map { Self.packed($0, interests: 1) }
    let big = Self.packed(9, interests: 200)
    let budget = small.reduce(0) { $0 + $1.view.bytes } + 40
    #expect(big.view.bytes > 40)
    let cache = PackedViewCache(capacity: 1024, maxBytes: budget)
    cache.keep(small)
    #expect(cache.bytes == budget - 40)
    #expect(small.allSatisfy { Self.kept(cache, $0) })
    // Past the budget: not kept, and nothing kept before is dropped for it.
    cache.keep([big])
    #expect(!Self.kept(cache, big))
    #expect(cache.bytes == budget - 40)
    #expect(small.allSatisfy { Self.kept(cache, $0) })
    // A profile's new view replaces its old one's bytes; a forgotten one's bytes are freed.
    let changed = Self.packed(0, interests: 2, revision: 2)
    cache.keep([changed])
    #expect(Self.kept(cache, changed) && !Self.kept(cache, small[0]))
    #expect(cache.bytes == budget - 40 - small[0].view.bytes + changed.view.bytes)
    cache.evict(1)
    #expect(!Self.kept(cache, small[1]))
    #expect(cache.bytes == budget - 40 - small[0].view.bytes + changed.view.bytes - small[1].view.bytes)
    // Room again: the big one fits once enough is freed.
    for id in [0, 2, 3] { cache.evict(id) }
    #expect(cache.bytes == 0)
    let roomy = PackedViewCache(capacity: 1024, maxBytes: big.view.bytes)
    roomy.keep([big])
    #expect(Self.kept(roomy, big) && roomy.bytes == big.view.bytes)
  }
}
