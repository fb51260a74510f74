import AudienceCore
import AudienceWire
import NIOCore
import Testing

/// Responses built from packed views are byte for byte what protobuf-c packs for the same
/// response, so every client decodes them the same way.
@Suite("Packed views")
struct PackedViewTests {
  static let summary = ProfileSummary(
    id: 300, cookies: ["c1", "c2 ünïcode"], emails: ["a@x.com"], records: 3, repeatedEmails: ["a@x.com"],
    firstSeen: Timestamp(seconds: 1_700_000_000), lastSeen: Timestamp(seconds: 1_741_600_000))

  static let views: [Record] = [
    Record(
      cookie: "c2 ünïcode", email: "a@x.com", phoneNumber: "+1-555-0100", createdAt: Timestamp(seconds: 1_741_600_000),
      location: Location(state: "California", country: "USA", city: "Los Angeles"),
      demographics: Demographics(age: 29, gender: "Male", income: "75000", education: "Bachelor's"),
      interests: ["Gaming", "AI", "Crypto 🚀"]),
    Record(cookie: "x", createdAt: Timestamp(seconds: 0)),
    Record(cookie: String(repeating: "k", count: 300), demographics: Demographics(age: 0), interests: (0..<200).map { "i\($0)" }),
  ]

  static func bytes(_ write: (inout ByteBuffer) -> Void) -> [UInt8] {
    var b = ByteBuffer()
    write(&b)
    return Array(b.readableBytesView)
  }

  static func packed(_ r: Record, _ s: ProfileSummary = summary) -> PackedView {
    PackedView(StampedView(stamp: ProfileStamp(id: s.id, revision: 1), data: r, summary: s))
  }

  @Test(arguments: [0, 1, 127, 128, 300, UInt64.max])
  func getUserMatchesProtobufC(id: UInt64) {
    for view in Self.views {
      for asked in [view.cookie, "other-cookie", "ç"] {
        var shown = view
        shown.cookie = asked
        let expected = Self.bytes {
          WireCodec.encode(WireResponse(id: id, body: .getUser(UserView(data: shown, summary: Self.summary))), into: &$0)
        }
        let actual = Self.bytes { WireCodec.encodeGetUser(id: id, cookie: asked, view: Self.packed(view), into: &$0) }
        #expect(actual == expected, "id \(id), cookie \(asked)")
      }
    }
  }

  @Test(arguments: [0, 1, 9_999, 1 << 40])
  func cohortPageMatchesProtobufC(total: Int) throws {
    for cursor in [nil, "p42"] as [String?] {
      for count in [0, 1, 3, 200] {
        let users = (0..<count).map { i in Self.views[i % Self.views.count] }
        let expected = Self.bytes {
          WireCodec.encode(WireResponse(id: 77, body: .queryCohort(CohortPage(total: total, users: users, nextCursor: cursor))), into: &$0)
        }
        let actual = Self.bytes {
          WireCodec.encodeCohortPage(
            id: 77, total: total, users: users.map { Self.packed($0) }, nextCursor: cursor, into: &$0)
        }
        #expect(actual == expected, "total \(total), cursor \(cursor ?? "nil"), \(count) users")
        // And it decodes to the page.
        var frame = ByteBuffer(bytes: actual)
        frame.moveReaderIndex(forwardBy: 4)
        guard case .queryCohort(let page)? = try WireCodec.decodeResponse(frame).body else {
          Issue.record("not a page")
          continue
        }
        #expect(page.users.count == count && page.total == total && page.nextCursor == cursor)
      }
    }
  }
}
