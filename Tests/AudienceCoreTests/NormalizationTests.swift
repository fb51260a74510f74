import Testing

@testable import AudienceCore

@Suite("Record normalization")
struct NormalizationTests {
  let n = RecordNormalizer()

  @Test func normalizesTheSeedRecord() throws {
    let r = try n.normalize(
      RawRecord(
        cookie: "  user_cookie_id ", email: " User@Example.COM ", phoneNumber: "1234567890", createdAt: "03/10/2025 15:30",
        state: "California", country: "USA", city: "Los Angeles", age: 25, gender: "Male", income: "50000",
        education: "Bachelor's", interests: ["Tech", " Gaming ", "tech", "", "GAMING"]))
    #expect(r.cookie == "user_cookie_id")
    #expect(r.email == "user@example.com")
    #expect(r.createdAt?.iso8601 == "2025-03-10T15:30:00")
    #expect(r.interests == ["Tech", "Gaming"])
    #expect(r.location.city == "Los Angeles")
    #expect(r.demographics.age == 25)
  }

  @Test func cookieKeepsItsCase() throws {
    #expect(try n.normalize(RawRecord(cookie: "AbC")).cookie == "AbC")
  }

  @Test func placeholdersAreNotIdentifiers() throws {
    for placeholder in ["null", " NULL ", "undefined", "None", "nan", "N/A"] {
      #expect(try n.normalize(RawRecord(cookie: "c", email: placeholder)).email == nil, "\(placeholder)")
      #expect {
        try n.normalize(RawRecord(cookie: placeholder))
      } throws: { error in
        (error as? AudienceError)?.message.contains("placeholder") == true
      }
    }
    // Configurable: an empty list blocks nothing.
    var limits = RecordLimits()
    limits.blockedIdentifiers = []
    #expect(try RecordNormalizer(limits: limits).normalize(RawRecord(cookie: "null", email: "none")).email == "none")
    // Two records with the placeholder email stay two people.
    var g = IdentityGraph()
    let records = try [RawRecord(cookie: "a", email: "null"), RawRecord(cookie: "b", email: "null")].map(n.normalize)
    Fixture.apply(records, to: &g)
    #expect(g.profileCount == 2)
  }

  @Test func emptyStringsAreAbsent() throws {
    let r = try n.normalize(RawRecord(cookie: "c", email: "  ", createdAt: ""))
    #expect(r.email == nil)
    #expect(r.createdAt == nil)
  }

  @Test(arguments: [
    (RawRecord(cookie: ""), "data.cookie"),
    (RawRecord(cookie: "   "), "data.cookie"),
    (RawRecord(cookie: "c", age: -5), "data.demographics.age"),
    (RawRecord(cookie: "c", age: 131), "data.demographics.age"),
    (RawRecord(cookie: "c", createdAt: "02/30/2025 10:00"), "data.created_at"),
    (RawRecord(cookie: "c", email: "a b@example.com"), "data.email"),
    // Whitespace of any kind, on the ASCII path and the other one (a tab and a no-break space
    // were taken as part of the address while a space was refused).
    (RawRecord(cookie: "c", email: "a\tb@example.com"), "data.email"),
    (RawRecord(cookie: "c", email: "a\u{A0}b@example.com"), "data.email"),
    (RawRecord(cookie: "c", email: "é\u{3000}b@example.com"), "data.email"),
    (RawRecord(cookie: "c", email: "é\u{2009}b@example.com"), "data.email"),
    (RawRecord(cookie: "c", city: String(repeating: "x", count: 10 << 20)), "data.location.city"),
    (RawRecord(cookie: "c", gender: "a\u{0}b"), "data.demographics.gender"),
    (RawRecord(cookie: "c", interests: ["ok", "bad\u{7}"]), "data.interests[1]"),
    (RawRecord(cookie: "c", interests: Array(repeating: "x", count: 300)), "data.interests"),
  ])
  func errorsNameTheField(_ raw: RawRecord, _ field: String) {
    #expect {
      _ = try n.normalize(raw)
    } throws: { error in
      guard let e = error as? AudienceError else { return false }
      return e.code == .invalidArgument && e.field == field && e.message.hasPrefix(field)
    }
  }

  /// The control-character check reads eight bytes at a time: a control byte anywhere, at
  /// every length and position, is found, and a tab or a non-ASCII character is not one.
  @Test func controlCharactersAreFoundAtEveryPosition() throws {
    let controls: [Unicode.Scalar] = ["\u{0}", "\u{1}", "\u{7}", "\u{1B}", "\u{1F}", "\n", "\r"]
    for length in 1...40 {
      for at in 0..<length {
        for control in controls {
          var scalars = Array(repeating: Unicode.Scalar("a"), count: length)
          scalars[at] = control
          let gender = String(String.UnicodeScalarView(scalars))
          #expect(throws: AudienceError.self, "length \(length), at \(at)") {
            _ = try n.normalize(RawRecord(cookie: "c", gender: gender))
          }
        }
      }
      // Tabs, spaces inside, and bytes above 0x7F (here "é" and "日") are not control characters.
      let fine = "a" + String(repeating: "\t\u{E9} \u{65E5}", count: length) + "z"
      #expect(try n.normalize(RawRecord(cookie: "c", gender: fine)).demographics.gender == fine)
    }
  }

  @Test func tenMegabyteStringSaysTheLimit() {
    do {
      _ = try n.normalize(RawRecord(cookie: "c", city: String(repeating: "x", count: 10 << 20)))
      Issue.record("accepted a 10 MB city")
    } catch {
      #expect(error.message.contains("1024"))
      #expect(error.message.contains("10485760"))
    }
  }

  @Test func contentIDDependsOnEveryField() throws {
    let base = try n.normalize(RawRecord(cookie: "c", email: "e@x", createdAt: "2025-01-01", age: 3, interests: ["a"]))
    var variants: [Record] = []
    var v = base; v.cookie = "d"; variants.append(v)
    v = base; v.email = nil; variants.append(v)
    v = base; v.demographics.age = 4; variants.append(v)
    v = base; v.interests = ["a", "b"]; variants.append(v)
    v = base; v.location.city = "x"; variants.append(v)
    v = base; v.createdAt = nil; variants.append(v)
    let ids = Set(variants.map(ContentID.init(of:)) + [ContentID(of: base)])
    #expect(ids.count == variants.count + 1)
    #expect(ContentID(of: base) == ContentID(of: base))
  }

  /// Content ids are stored (database rows, snapshots): the function must never change. The
  /// expected value is FNV-1a 128 over the length-prefixed fields, computed independently.
  @Test func contentIDIsStable() {
    let r = Record(
      cookie: "ck-1", email: "ana@example.com", createdAt: Timestamp(seconds: 1_741_620_600),
      location: Location(state: "CA", country: "USA", city: "San José"),
      demographics: Demographics(age: 34, gender: "Female", education: "Master"), interests: ["Tech", "Gaming"])
    #expect(ContentID(of: r).description == "701b853923c34e1b255152ace0d4d702")
  }

  @Test func emailsWithSpacesOrLineBreaksAreRefused() throws {
    for email in ["a b@x.com", "a\u{85}b@x.com", "a\u{2028}b@x.com", "a\u{2029}b@x.com"] {
      #expect(throws: AudienceError.self) { try n.normalize(RawRecord(cookie: "c", email: email)) }
    }
    #expect(try n.normalize(RawRecord(cookie: "c", email: " A\u{e9}b@X.com\t")).email == "a\u{e9}b@x.com")
  }

  @Test func blockedIdentifiersAreFoundWhateverTheirCase() throws {
    #expect(throws: AudienceError.self) { try n.normalize(RawRecord(cookie: " NULL ")) }
    #expect(throws: AudienceError.self) { try n.normalize(RawRecord(cookie: "Undefined")) }
    #expect(try n.normalize(RawRecord(cookie: "c", email: "N/A")).email == nil)
    #expect(try n.normalize(RawRecord(cookie: "nulls")).cookie == "nulls")
    // Compared on bytes when ASCII: the same length is not enough, and only letters fold.
    #expect(try n.normalize(RawRecord(cookie: "nul1")).cookie == "nul1")
    #expect(try n.normalize(RawRecord(cookie: "c", email: "n/A")).email == nil)
    #expect(try n.normalize(RawRecord(cookie: "c", email: "n/a@x")).email == "n/a@x")
    // A member that is not lower-case ASCII matches only through the set, as configured.
    var limits = RecordLimits.default
    limits.blockedIdentifiers = ["NULL", "n\u{e9}ant", "-"]
    let custom = RecordNormalizer(limits: limits)
    #expect(try custom.normalize(RawRecord(cookie: "null")).cookie == "null")
    #expect(throws: AudienceError.self) { try custom.normalize(RawRecord(cookie: "N\u{c9}ANT")) }
    #expect(throws: AudienceError.self) { try custom.normalize(RawRecord(cookie: "-")) }
    #expect(try custom.normalize(RawRecord(cookie: "=")).cookie == "=")
    // String equality is canonical equivalence: U+1FEF is "`", so this member blocks "nul`".
    limits.blockedIdentifiers = ["null", "nul\u{1FEF}"]
    let equivalent = RecordNormalizer(limits: limits)
    #expect(throws: AudienceError.self) { try equivalent.normalize(RawRecord(cookie: "nul`")) }
    #expect(try equivalent.normalize(RawRecord(cookie: "c", email: "NUL`")).email == nil)
    #expect(try equivalent.normalize(RawRecord(cookie: "nul'")).cookie == "nul'")
  }

  @Test func repeatedInterestsAreDroppedCaseInsensitivelyInLongListsToo() throws {
    let short = try n.normalize(RawRecord(cookie: "c", interests: ["Tech", "tech", " TECH ", "Gaming", "\u{c9}t\u{e9}", "\u{e9}T\u{c9}"]))
    #expect(short.interests == ["Tech", "Gaming", "\u{c9}t\u{e9}"])
    // Folded as lowercased() folds: the Kelvin sign is a "k"; "@" and "`" differ from letters by
    // the case bit but are not letters.
    let folded = try n.normalize(RawRecord(cookie: "c", interests: ["k", "\u{212A}", "@", "`", "[", "{", "Zz", "zZ"]))
    #expect(folded.interests == ["k", "@", "`", "[", "{", "Zz"])
    let long = try n.normalize(RawRecord(cookie: "c", interests: (0..<40).map { "I\($0 % 20)" } + ["i3"]))
    #expect(long.interests == (0..<20).map { "I\($0)" })
  }
}
