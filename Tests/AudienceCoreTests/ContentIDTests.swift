import Testing

@testable import AudienceCore

/// A record's content id is stored with it (the `users` table's `content_id`) and is what makes a
/// repeated ingest a duplicate: it must not change between builds, or every record of a database
/// written before would be taken as new when sent again.
@Suite("Content ids")
struct ContentIDTests {
  static let full = Record(
    cookie: "c0", email: "user0@example.com", phoneNumber: "3373143628",
    createdAt: Timestamp(year: 2025, month: 1, day: 1, hour: 0, minute: 2, second: 43)!,
    location: Location(state: "S\u{E3}o Paulo", country: "Brazil", city: "City90"),
    demographics: Demographics(age: 21, gender: "Male", income: "33000", education: "Bachelor's"),
    interests: ["Movies", "Gaming", "Yoga", "Finance"])

  /// The values below were computed by an independent implementation (Python: FNV-1a 128 over
  /// the length-prefixed fields, as `ContentID(of:)` documents) and agree with every build since
  /// the table was made. A long field's length takes two prefix bytes.
  @Test func idsAreTheOnesEarlierBuildsStored() {
    #expect(ContentID(of: Self.full).description == "01c19dbbf0aeab0f0e115974076b6ec4")
    #expect(ContentID(of: Record(cookie: "c1")).description == "15c1cc8283df3bb90117c106bd1c1f5e")
    #expect(
      ContentID(of: Record(cookie: String(repeating: "\u{1F600}", count: 40))).description
        == "a3435bee453e349fc11f9f4b0e3a7939")
  }
}
