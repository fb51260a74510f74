import Testing

@testable import AudienceCore

@Suite("--where expressions")
struct FilterExpressionTests {
  @Test func theIssuesExamples() throws {
    #expect(
      try FilterExpression.parse("age:20..30 and (interest:Gaming or interest:AI) and not country:USA")
        == .all([
          .age(min: 20, max: 30), .any([.interests(any: ["Gaming"]), .interests(any: ["AI"])]),
          .not(.strings(.country, ["USA"])),
        ]))
    #expect(try FilterExpression.parse("income:..30000") == .income(min: nil, max: 30_000))
    #expect(
      try FilterExpression.parse("category:Finance or (gender:Male and state:Ontario)")
        == .any([.categories(["Finance"]), .all([.strings(.gender, ["Male"]), .strings(.state, ["Ontario"])])]))
  }

  @Test func precedenceIsNotThenAndThenOr() throws {
    let a = Filter.strings(.gender, ["a"]), b = Filter.strings(.gender, ["b"]), c = Filter.strings(.gender, ["c"])
    #expect(try FilterExpression.parse("gender:a or gender:b and gender:c") == .any([a, .all([b, c])]))
    #expect(try FilterExpression.parse("not gender:a and gender:b") == .all([.not(a), b]))
    #expect(try FilterExpression.parse("NOT (gender:a OR gender:b)") == .not(.any([a, b])))
    #expect(try FilterExpression.parse("  ((gender:a))  ") == a)
  }

  @Test func values() throws {
    #expect(try FilterExpression.parse(#"city:"Los Angeles""#) == .strings(.city, ["Los Angeles"]))
    #expect(try FilterExpression.parse(#"city:"Say \"hi\"""#) == .strings(.city, [#"Say "hi""#]))
    #expect(try FilterExpression.parse("country:USA,Canada") == .strings(.country, ["usa", "canada"]))
    #expect(try FilterExpression.parse("interest:gaming,AI") == .interests(any: ["gaming", "ai"]))
    #expect(try FilterExpression.parse("age:30") == .age(min: 30, max: 30))
    #expect(try FilterExpression.parse("age:65..") == .age(min: 65, max: nil))
    #expect(try FilterExpression.parse("income:50k..100k") == .income(min: 50_000, max: 100_000))
    #expect(try FilterExpression.parse("income:$1.5m..") == .income(min: 1_500_000, max: nil))
    #expect(try FilterExpression.parse("income:High") == .incomeLabels(["high"]))
    #expect(try FilterExpression.parse("cohort:yes") == .cohort(true))
    #expect(try FilterExpression.parse("cohort:No") == .cohort(false))
    let day = Timestamp(year: 2025, month: 3, day: 10)!.seconds
    #expect(try FilterExpression.parse("created:2025-03-10") == .created(min: day, max: day + 86_399))
    #expect(try FilterExpression.parse("seen:03/10/2025..") == .seen(min: day, max: nil))
    #expect(try FilterExpression.parse("seen:..2025-03-10T15:30") == .seen(min: nil, max: day + 15 * 3600 + 30 * 60))
    // Quoted and bare parts one after the other: a date with a space as a range's end (QUERY.md).
    let at = day + 15 * 3600 + 30 * 60
    #expect(try FilterExpression.parse(#"created:"03/10/2025 15:30".."#) == .created(min: at, max: nil))
    #expect(try FilterExpression.parse(#"created:.."03/10/2025 15:30""#) == .created(min: nil, max: at))
    #expect(try FilterExpression.parse(#"seen:"03/10/2025 09:00".."03/10/2025 15:30" and age:30"#)
      == .all([.seen(min: day + 9 * 3600, max: at), .age(min: 30, max: 30)]))
    #expect(try FilterExpression.parse(#"city:"Washington, D.C.""#) == .strings(.city, ["Washington, D.C."]))
    // Alternatives split at the commas outside quotes (a quoted part with a bare one was taken
    // whole, commas included: an empty segment).
    #expect(try FilterExpression.parse(#"city:"Washington, D.C.",Boston"#) == .strings(.city, ["Washington, D.C.", "Boston"]))
    #expect(try FilterExpression.parse(#"interest:"Gaming",AI"#) == .interests(any: ["gaming", "ai"]))
    // An amount's commas are not alternatives.
    #expect(try FilterExpression.parse("income:50,000..") == .income(min: 50_000, max: nil))
  }

  /// Each error says where (the column, with the expression and a caret) and what was expected.
  @Test(arguments: [
    ("age:20..30 and (interest:Gaming", "column 32: expected \")\" to close the \"(\" at column 16, found the end"),
    ("colour:red", "column 1: unknown field \"colour\"; fields are age, gender"),
    ("age:abc", "column 5: age: \"abc\" is not an age (0 to 130)"),
    ("age:20..200", "column 5: age: \"200\" is not an age"),
    ("age:20..30 or", "column 14: expected a predicate such as age:20..30"),
    ("country:", "column 9: expected a value for country"),
    ("cohort:maybe", "column 8: cohort: expected yes or no"),
    (#"city:"Los Angeles"#, "column 6: unterminated quoted value"),
    ("gender:a gender:b", "column 10: expected \"and\", \"or\" or the end of the expression, found \"gender:b\""),
    ("gender", "column 7: expected \":\" after \"gender\""),
    ("", "column 1: expected a predicate"),
    ("created:yesterday", "column 9: created: \"yesterday\" is not a date"),
    ("(gender:a))", "column 11: expected \"and\", \"or\" or the end"),
    ("age:30..20", "column 5: age: 30..20 is an empty range: 30 is past 20"),
    ("income:100k..50k", "column 8: income: 100k..50k is an empty range: 100k is past 50k"),
    ("created:2025-03-10..2025-03-09", "column 9: created: 2025-03-10..2025-03-09 is an empty range"),
    (#"created:"03/10/2025 15:30"#, "column 9: unterminated quoted value"),
    // An empty alternative was dropped: `country:USA,` matched USA alone.
    ("country:USA,", "column 13: country: an empty alternative (nothing between two commas, or after the last one)"),
    ("interest:AI,,ML and age:30", "column 13: interest: an empty alternative"),
    (",", "column 1: expected a predicate"),
    ("category:,Tech", "column 10: category: an empty alternative"),
    (#"city:"",Boston"#, "column 8: city: an empty alternative"),
    ("income:High,", "column 13: income: an empty alternative"),
  ])
  func errorsSayWhereAndWhat(_ input: String, _ expected: String) {
    do {
      let f = try FilterExpression.parse(input)
      Issue.record("parsed \(input) as \(f)")
    } catch {
      #expect(error.code == .invalidArgument)
      #expect(error.field == "where")
      #expect(error.message.hasPrefix("where: " + expected), "\(error.message)")
      #expect(error.message.contains("\n  " + input + "\n"), "\(error.message)")
    }
  }

  /// At most 256 predicates and operators, 4,096 values (Filter+Size.swift).
  @Test func wideExpressionsAreRefused() throws {
    let ok = Array(repeating: "created:2025-01-01..", count: 255).joined(separator: " or ")
    #expect(try FilterExpression.parse(ok).size.nodes == 256)
    #expect(throws: AudienceError.invalidField("where", "has 301 predicates and operators; at most 256 (a list of values, country:A,B,C, is one; a run of one operator, a or b or c, is one)")) {
      try FilterExpression.parse(Array(repeating: "created:2025-01-01..", count: 300).joined(separator: " or "))
    }
    #expect(throws: AudienceError.invalidField("where", "lists 5000 values; at most 4096")) {
      try FilterExpression.parse("city:" + (0..<5_000).map { "c\($0)" }.joined(separator: ","))
    }
  }

  @Test func nestingIsBounded() throws {
    // As QUERY.md says: 30 deep is accepted, 31 is not.
    let ok = String(repeating: "(", count: 30) + "age:1" + String(repeating: ")", count: 30)
    #expect(throws: Never.self) { try FilterExpression.parse(ok) }
    #expect(throws: Never.self) { try FilterExpression.parse(String(repeating: "not ", count: 30) + "age:1") }
    let over = String(repeating: "(", count: 31) + "age:1" + String(repeating: ")", count: 31)
    for hostile in [over, String(repeating: "(", count: 100_000), String(repeating: "not ", count: 100_000) + "age:1"] {
      #expect {
        try FilterExpression.parse(hostile)
      } throws: { error in
        (error as? AudienceError)?.message.contains("nest at most 30 deep") == true
      }
    }
  }

  @Test func keywordsNeedSpaces() throws {
    // "notable" is not "not": it is an unknown field.
    #expect(throws: AudienceError.self) { try FilterExpression.parse("notable:1") }
    #expect(try FilterExpression.parse("not(gender:a)") == .not(.strings(.gender, ["a"])))
  }
}
