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

  /// FNV-1a 128 written out plainly (`UInt128`), numbers hashed as their `String`: the id's
  /// definition, for times before 1970, the extremes, and every age.
  static func reference(_ r: Record) -> String {
    var h: UInt128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d
    func byte(_ b: UInt8) { h = (h ^ UInt128(b)) &* ((1 << 88) + 0x13b) }
    func add(_ s: String?) {
      guard let s else { return byte(0xFF) }
      var n = s.utf8.count
      repeat { byte(UInt8(n & 0x7F)); n >>= 7 } while n > 0
      for b in s.utf8 { byte(b) }
    }
    add(r.cookie); add(r.email); add(r.phoneNumber); add(r.createdAt.map { String($0.seconds) })
    add(r.location.state); add(r.location.country); add(r.location.city)
    add(r.demographics.age.map { String($0) })
    add(r.demographics.gender); add(r.demographics.income); add(r.demographics.education)
    add(String(r.interests.count))
    for i in r.interests { add(i) }
    let hex = String(h, radix: 16)
    return String(repeating: "0", count: 32 - hex.count) + hex
  }

  @Test func numbersAreHashedAsTheirDecimalText() {
    let times: [Int64] = [0, 1, -1, 9, 10, -10, 1_735_689_763, -62_135_596_800, .max, .min, .min + 1]
    for t in times {
      let r = Record(cookie: "c", createdAt: Timestamp(seconds: t), interests: ["a"])
      #expect(ContentID(of: r).description == Self.reference(r), "\(t)")
    }
    for age in 0...130 {
      let r = Record(cookie: "c", demographics: Demographics(age: age), interests: Array(repeating: "i", count: age))
      #expect(ContentID(of: r).description == Self.reference(r), "\(age)")
    }
    #expect(ContentID(of: Self.full).description == Self.reference(Self.full))
  }
}
