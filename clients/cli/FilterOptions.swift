import ArgumentParser
import AudienceCore

/// `--cookie`, the original route's scope, for `cohort` and `analyze` (not `watch`, which follows
/// profiles).
struct CookieScope: ParsableArguments {
  @Option(help: "Scope to this cookie's email cohort (the original route).") var cookie: String?

  func validate() throws {
    // --cookie '' (a script's unset variable) dropped the scope: everyone.
    if cookie.map({ $0.allSatisfy(\.isWhitespace) }) == true { throw ValidationError("--cookie is empty") }
  }
}

/// The segment flags shared by `cohort`, `analyze` and `watch`.
struct FilterOptions: ParsableArguments {
  @Option(
    name: .customLong("where"),
    help: ArgumentHelp(
      "A filter expression, e.g. 'age:20..30 and (interest:Gaming or interest:AI) and not country:USA'.",
      discussion: "Fields: age, gender, country, state, city, education, income, interest, category, cohort, created, seen. See docs/QUERY.md.",
      valueName: "expr")) var expression: String?
  @Option(name: .customLong("age-min"), parsing: .unconditional, help: "Minimum age, inclusive.") var ageMin: Int?
  @Option(name: .customLong("age-max"), parsing: .unconditional, help: "Maximum age, inclusive.") var ageMax: Int?
  @Option(help: "Comma-separated interests; a user matches when it has any of them.") var interests: String?
  @Option(help: "Gender.") var gender: String?
  @Option(help: "Country.") var country: String?
  @Option(help: "State or region.") var state: String?
  @Option(help: "City.") var city: String?
  @Option(help: "Education.") var education: String?
  @Option(name: .customLong("income-min"), parsing: .unconditional, help: "Minimum numeric income, inclusive.") var incomeMin: Int64?
  @Option(name: .customLong("income-max"), parsing: .unconditional, help: "Maximum numeric income, inclusive.") var incomeMax: Int64?

  func validate() throws {
    // An empty value (a script's unset variable) is an error, not "everyone": --interests ''
    // matched every profile.
    for (name, value) in [("interests", interests), ("gender", gender), ("country", country),
      ("state", state), ("city", city), ("education", education)]
    where value.map({ $0.allSatisfy(\.isWhitespace) }) == true {
      throw ValidationError("--\(name) is empty")
    }
    // As in an expression (age:131 is refused): an age is 0 to 130.
    for (name, age) in [("age-min", ageMin), ("age-max", ageMax)] where age.map({ !(0...130).contains($0) }) == true {
      throw ValidationError("--\(name) \(age!) is not an age (0 to 130)")
    }
    if let a = ageMin, let b = ageMax, a > b { throw ValidationError("--age-min \(a) is greater than --age-max \(b)") }
    if let a = incomeMin, let b = incomeMax, a > b { throw ValidationError("--income-min \(a) is greater than --income-max \(b)") }
    _ = try filter()
  }

  /// Every given flag and the --where expression must hold (nil when none is given).
  /// - Throws: `ValidationError` with the parser's message when the expression is not valid.
  func filter() throws -> Filter? {
    var parts: [Filter] = []
    if let expression {
      do { parts.append(try FilterExpression.parse(expression)) } catch { throw ValidationError("--\(error.message)") }
    }
    if ageMin != nil || ageMax != nil { parts.append(.age(min: ageMin.map(Int64.init), max: ageMax.map(Int64.init))) }
    if let interests {
      let list = interests.split(separator: ",").map { String($0) }.filter { !$0.allSatisfy(\.isWhitespace) }
      guard !list.isEmpty else { throw ValidationError("--interests names no interest") }
      parts.append(.interests(any: list))
    }
    if let gender { parts.append(.strings(.gender, [gender])) }
    if let country { parts.append(.strings(.country, [country])) }
    if let state { parts.append(.strings(.state, [state])) }
    if let city { parts.append(.strings(.city, [city])) }
    if let education { parts.append(.strings(.education, [education])) }
    if incomeMin != nil || incomeMax != nil { parts.append(.income(min: incomeMin, max: incomeMax)) }
    return parts.isEmpty ? nil : (parts.count == 1 ? parts[0] : .all(parts))
  }
}
