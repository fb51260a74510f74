import ArgumentParser
import AudienceCore

/// The segment flags shared by `cohort` and `analyze`.
struct FilterOptions: ParsableArguments {
  @Option(help: "Scope to this cookie's email cohort (the original route).") var cookie: String?
  @Option(name: .customLong("age-min"), help: "Minimum age, inclusive.") var ageMin: Int?
  @Option(name: .customLong("age-max"), help: "Maximum age, inclusive.") var ageMax: Int?
  @Option(help: "Comma-separated interests; a user matches when it has any of them.") var interests: String?
  @Option(help: "Gender.") var gender: String?
  @Option(help: "Country.") var country: String?
  @Option(help: "State or region.") var state: String?
  @Option(help: "City.") var city: String?
  @Option(help: "Education.") var education: String?
  @Option(name: .customLong("income-min"), help: "Minimum numeric income, inclusive.") var incomeMin: Int64?
  @Option(name: .customLong("income-max"), help: "Maximum numeric income, inclusive.") var incomeMax: Int64?

  func validate() throws {
    if let a = ageMin, let b = ageMax, a > b { throw ValidationError("--age-min \(a) is greater than --age-max \(b)") }
    if let a = incomeMin, let b = incomeMax, a > b { throw ValidationError("--income-min \(a) is greater than --income-max \(b)") }
  }

  /// Every given flag must hold (nil when none is given).
  var filter: Filter? {
    var parts: [Filter] = []
    if ageMin != nil || ageMax != nil { parts.append(.age(min: ageMin.map(Int64.init), max: ageMax.map(Int64.init))) }
    if let interests {
      let list = interests.split(separator: ",").map { String($0) }.filter { !$0.allSatisfy(\.isWhitespace) }
      if !list.isEmpty { parts.append(.interests(any: list)) }
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
