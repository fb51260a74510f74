import ArgumentParser
import AudienceClient
import AudienceCore

/// `audience cohort`
struct Cohort: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Segment users by demographics, location and interests.",
    discussion: """
      Without --cookie: the unique profiles matching every given filter, oldest profile first.
      With --cookie C: the original /api/cohort/user route: for every cookie sharing an email
      with C (C included), that cookie's latest record, when it matches the filters.
      String filters compare case-insensitively. --interests matches any of the listed interests.
      Prints {"total": N, "users": [{"data": {...}}, ...], "next_cursor": T or null} with --json;
      pass --cursor T to get the next page.
      """)

  @OptionGroup var global: GlobalOptions

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
  @Option(help: "Page size, 1...10000 (default 100).") var limit: Int = CohortQuery.defaultLimit
  @Option(help: "next_cursor of the previous page.") var cursor: String?
  @Flag(help: "Print only the number of matching users.") var count = false

  func validate() throws {
    if let a = ageMin, let b = ageMax, a > b { throw ValidationError("--age-min \(a) is greater than --age-max \(b)") }
    if let a = incomeMin, let b = incomeMax, a > b { throw ValidationError("--income-min \(a) is greater than --income-max \(b)") }
    guard (1...CohortQuery.maxLimit).contains(limit) else { throw ValidationError("--limit must be in 1...\(CohortQuery.maxLimit)") }
  }

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

  func run() async throws {
    let query = CohortQuery(filter: filter, cookie: cookie, limit: limit, cursor: cursor, countOnly: count)
    try await Output.withClient(global) { client in
      let page = try await client.queryCohort(query)
      if count {
        Output.stdout(global.json ? JSONValue.object([("total", .int(Int64(page.total)))]).serialized() : "\(page.total)")
        return
      }
      if global.json {
        Output.stdout(
          JSONValue.object([
            ("total", .int(Int64(page.total))),
            ("users", .array(page.users.map(RecordJSON.json))),
            ("next_cursor", .from(page.nextCursor)),
          ]).serialized())
      } else {
        Output.stdout(Human.page(page))
      }
    }
  }
}
