import ArgumentParser
import AudienceClient
import AudienceCore
import AudienceWire

/// `audience cohort`
struct Cohort: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Segment users by demographics, location and interests.",
    discussion: """
      Without --cookie: the unique profiles matching every given filter, oldest profile first. \
      With --cookie C: the original /api/cohort/user route: for every cookie sharing an email \
      with C (C included), that cookie's latest record, when it matches the filters. \
      String filters compare case-insensitively. --interests matches any of the listed interests. \
      --where takes a filter expression (docs/QUERY.md), e.g. \
      'age:20..30 and (interest:Gaming or interest:AI) and not country:USA'; it combines with the \
      other flags by "and". \
      Prints {"total": N, "users": [{"data": {...}}, ...], "next_cursor": T or null} with --json; \
      pass --cursor T to get the next page. --all prints every matching user instead, page after \
      page (each next page is fetched while one is printed): with --json one {"data": {...}} \
      object per line.
      """)

  @OptionGroup var global: GlobalOptions

  @OptionGroup var scope: CookieScope
  @OptionGroup var filters: FilterOptions
  @Option(parsing: .unconditional, help: "Page size, 1...10000.") var limit: Int = CohortQuery.defaultLimit
  @Option(help: "next_cursor of the previous page.") var cursor: String?
  @Flag(help: "Print only the number of matching users.") var count = false
  @Flag(help: "Print every matching user, page after page (--limit is the page size); with --json one object per line.")
  var all = false

  func validate() throws {
    guard (1...CohortQuery.maxLimit).contains(limit) else { throw ValidationError("--limit must be in 1...\(CohortQuery.maxLimit)") }
    if all && count { throw ValidationError("--all and --count do not go together: --count prints only the number") }
    // An empty cursor would be the first page again: a loop reading next_cursor would not end.
    if cursor?.isEmpty == true { throw ValidationError("--cursor is empty (the last page's next_cursor is null)") }
  }

  func run() async throws {
    let query = CohortQuery(filter: try filters.filter(), cookie: scope.cookie, limit: limit, cursor: cursor, countOnly: count)
    try await Output.withClient(global) { client in
      if all {
        var first = true
        for try await page in client.cohortPages(query) {
          if first && !global.json { Output.stdout("\(page.total) matching user(s)") }
          first = false
          for user in page.users {
            let record = try user.record()
            Output.stdout(global.json ? RecordJSON.json(record).serialized() : Human.user(record))
          }
        }
        return
      }
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
