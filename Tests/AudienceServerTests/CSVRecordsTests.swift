import AudienceClient
import AudienceCore
import Testing

/// The CLI's mapping of CSV fields to a record, field by field (no server).
@Suite("CSV records")
struct CSVRecordsTests {
  static let columns = try! CSVRecords(header: ["cookie", "demographics.age", "interests", "income"])

  static func record(age: String = "", interests: String = "", income: String = "") throws -> RawRecord {
    try columns.record(["c1", age, interests, income])
  }

  /// Ages as pandas and people write them: integers, integers written as decimals, NaN for a gap.
  @Test(arguments: [
    ("25", 25), (" 25 ", 25), ("25.0", 25), ("+7", 7), ("-0", 0), ("1e2", 100), ("999999999", 999_999_999),
    ("", nil), ("nan", nil), ("NaN", nil), (" NAN ", nil),
  ] as [(String, Int?)])
  func agesAreRead(text: String, age: Int?) throws {
    #expect(try Self.record(age: text).age == age, "\(text)")
  }

  @Test(arguments: ["abc", "25.5", "1000000000", "1e12", "nana", "\u{663}", "0x1e", "0x1Ep0", "inf"])
  func otherAgesAreRefused(text: String) {
    #expect(throws: AudienceError.self, "\(text)") { try Self.record(age: text) }
  }

  /// Interests separated by `;` or `|`, or a Python list; items that are only whitespace
  /// (ASCII or not) are dropped, the others kept as written.
  @Test(arguments: [
    ("Tech;Gaming", ["Tech", "Gaming"]), ("Tech| Gaming", ["Tech", " Gaming"]), ("a;;b|", ["a", "b"]),
    (" ; \u{3000};x", ["x"]), ("caf\u{E9};\u{FC}ber", ["caf\u{E9}", "\u{FC}ber"]), ("", []),
    ("['Tech', 'Gaming']", ["Tech", "Gaming"]),
    // Python's list repr: spaces inside items kept, escapes decoded (they were dropped, and
    // kept as written).
    ("['Rock & Roll', 'Sci Fi']", ["Rock & Roll", "Sci Fi"]), (#"['a\\b']"#, [#"a\b"#]), (#"['tab\there']"#, ["tab\there"]),
    (#"["both'\"q"]"#, [#"both'"q"#]), (#"['caf\xe9', '\u00fcber']"#, ["caf\u{E9}", "\u{FC}ber"]),
    // Brackets around a plain list.
    ("[Rock & Roll; Sci Fi]", ["Rock & Roll", " Sci Fi"]), ("[Rock & Roll,Sci Fi]", ["Rock & Roll", "Sci Fi"]), ("[]", []),
  ] as [(String, [String])])
  func interestListsAreSplit(text: String, interests: [String]) throws {
    #expect(try Self.record(interests: text).interests == interests, "\(text)")
    // A JSON line's interests written as one string read alike: pandas' read_csv then to_json
    // writes "['Gaming']", which was stored as the one interest "['Gaming']".
    let json = JSONValue.object([("cookie", .string("c1")), ("interests", .string(text))])
    #expect(try RecordJSON.record(from: json).interests == interests, "\(text)")
  }

  /// Incomes pandas wrote as decimals lose their ".0"; any other text stays as written.
  @Test(arguments: [
    ("50000.0", "50000"), ("50000", "50000"), ("High", "High"), ("1.0e3", "1.0e3"), ("abc.0", "abc.0"),
    (".0", "0"), ("-7.0", "-7"), ("50000.5", "50000.5"), ("\u{663}.0", "\u{663}.0"), ("", ""),
  ] as [(String, String)])
  func incomesAreRead(text: String, income: String) throws {
    #expect(try Self.record(income: text).income == income, "\(text)")
  }

  /// A phone column pandas wrote as floats loses its ".0" too (it was kept: "1234567890.0").
  @Test func phoneNumbersWrittenAsFloatsAreRead() throws {
    let columns = try CSVRecords(header: ["cookie", "phone_number"])
    #expect(try columns.record(["c1", "3373143628.0"]).phoneNumber == "3373143628")
    #expect(try columns.record(["c1", "+1 337 314"]).phoneNumber == "+1 337 314")
  }

  /// A value past the header's last column is refused, naming it: an unquoted comma shifted it
  /// there, and the row's other values may be in the wrong columns. Empty fields past the
  /// header (a trailing comma) lose nothing and are read.
  @Test func aValuePastTheHeaderIsRefused() throws {
    let mapping = try CSVRecords(header: ["cookie", "email", "city"])
    #expect(try mapping.record(["c1", "a@x.com", "Paris", "", " "]).city == "Paris")
    #expect {
      try mapping.record(["c1", "a@x.com", "New York", " NY"])
    } throws: { error in
      (error as? AudienceError)?.message == "4 fields but the header has 3: field 4 (\" NY\") has no column (a value holding a comma must be quoted)"
    }
  }
}
