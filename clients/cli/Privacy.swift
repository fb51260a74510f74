import ArgumentParser
import AudienceClient
import AudienceCore

/// `--cookie C | --email E`, shared by forget and export.
struct PersonOptions: ParsableArguments {
  @Option(help: "The person's cookie (any of their cookies).") var cookie: String?
  @Option(help: "The person's email (any of their emails).") var email: String?

  func validate() throws {
    if (cookie == nil) == (email == nil) { throw ValidationError("give --cookie C or --email E (one of them)") }
  }

  var person: PersonRef { cookie.map { .cookie($0) } ?? .email(email!) }
}

/// `audience forget`
struct Forget: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Erase a person: every record of their profile, from every index, cohort and segment.",
    discussion: """
      Finds the profile of the cookie or email and deletes, durably, every raw record of it (all \\
      its cookies and emails); the profile leaves every index, cohort and live segment (watchers \\
      see it as forgotten). Prints what was erased ({"erased": {"id", "cookies", "emails", \\
      "records", ...}} with --json). Exits 3 when nobody has that cookie or email.
      """)

  @OptionGroup var global: GlobalOptions
  @OptionGroup var who: PersonOptions

  func run() async throws {
    try await Output.withClient(global) { client in
      let erased = try await client.forget(who.person)
      if global.json {
        Output.stdout(JSONValue.object([("erased", RecordJSON.json(erased))]).serialized())
      } else {
        Output.stdout(
          "erased profile #\(erased.id): \(erased.records) record(s), cookies \(erased.cookies.joined(separator: ", "))"
            + (erased.emails.isEmpty ? "" : ", emails \(erased.emails.joined(separator: ", "))"))
      }
    }
  }
}

/// `audience export`
struct Export: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Print everything held about a person: the profile and every raw record.",
    discussion: """
      Prints {"data": {...}, "profile": {...}, "records": [{"data": {...}}, ...]} (the merged view, \\
      the identities, and every stored record, oldest first). The output is JSON with or without \\
      --json. Exits 3 when nobody has that cookie or email.
      """)

  @OptionGroup var global: GlobalOptions
  @OptionGroup var who: PersonOptions

  func run() async throws {
    try await Output.withClient(global) { client in
      Output.stdout(RecordJSON.json(try await client.export(who.person)).serialized())
    }
  }
}
