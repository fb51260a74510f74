import ArgumentParser
import AudienceClient
import AudienceCore

/// `COOKIE | --cookie C | --email E`, shared by forget, export and history.
struct PersonOptions: ParsableArguments {
  @Argument(help: ArgumentHelp("The person's cookie (same as --cookie).", valueName: "cookie")) var cookieArgument: String?
  @Option(help: "The person's cookie (any of their cookies).") var cookie: String?
  @Option(help: "The person's email (any of their emails).") var email: String?

  func validate() throws {
    if [cookieArgument, cookie, email].compactMap({ $0 }).count != 1 {
      throw ValidationError("give a cookie (COOKIE or --cookie C) or --email E, one of them")
    }
    for (name, value) in [("COOKIE", cookieArgument), ("--cookie", cookie), ("--email", email)] {
      if let value, value.allSatisfy(\.isWhitespace) { throw ValidationError("\(name) is empty") }
    }
  }

  var person: PersonRef { (cookieArgument ?? cookie).map { .cookie($0) } ?? .email(email!) }
}

/// `audience split`
struct Split: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Detach a wrongly merged cookie (a shared device, a test account) into a profile of its own.",
    discussion: """
      From now on the cookie's records do not link their emails, so it stays apart whatever \
      arrives later (durable: it survives restarts). The profile it was in is rebuilt from its \
      records; it falls apart where only that cookie held it together. Prints the profiles it \
      became, the cookie's own first ({"profiles": [...]} with --json). Exits 3 for an unknown \
      cookie. `audience history` shows the links this removed. Emails that no profile holds \
      after it (a cookie alone in its profile keeps none) are listed as unlinked \
      ("unlinked_emails" with --json): their records are then reached by cookie.
      """)

  @OptionGroup var global: GlobalOptions
  @Argument(help: "The cookie to detach.") var cookie: String

  func validate() throws {
    if cookie.allSatisfy(\.isWhitespace) { throw ValidationError("the cookie is empty") }
  }

  func run() async throws {
    try await Output.withClient(global) { client in
      // The emails before, to say which the split left to no profile (a cookie alone in its
      // profile lost its email without a word). Unknown cookie: the split says so.
      let before = (try? await client.user(cookie: cookie))?.summary.emails ?? []
      let profiles = try await client.split(cookie: cookie)
      let kept = Set(profiles.flatMap(\.emails))
      let unlinked = before.filter { !kept.contains($0) }
      if global.json {
        Output.stdout(
          JSONValue.object([
            ("profiles", .array(profiles.map { RecordJSON.json($0) })), ("unlinked_emails", .array(unlinked.map { .string($0) })),
          ]).serialized())
      } else {
        for (i, p) in profiles.enumerated() {
          Output.stdout(
            (i == 0 ? "split off: " : "remains:   ") + "profile #\(p.id): \(p.records) record(s), cookies "
              + p.cookies.joined(separator: ", ") + (p.emails.isEmpty ? "" : ", emails \(p.emails.joined(separator: ", "))"))
        }
        if !unlinked.isEmpty {
          Output.stdout(
            "unlinked:  \(unlinked.joined(separator: ", ")) (held by no profile now; the records are reached by cookie: audience forget --cookie \(cookie))")
        }
      }
    }
  }
}

/// `audience forget`
struct Forget: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Erase a person: every record of their profile, from every index, cohort and segment.",
    discussion: """
      Finds the profile of the cookie or email and deletes, durably, every raw record of it (all \
      its cookies and emails); the profile leaves every index, cohort and live segment (watchers \
      see it as forgotten). Prints what was erased ({"erased": {"id", "cookies", "emails", \
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
      Prints {"data": {...}, "profile": {...}, "records": [{"data": {...}}, ...]} (the merged view, \
      the identities, and every stored record, in the order stored). The output is JSON with or without \
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

/// `audience history`
struct History: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Show how a person's profile came to be: which record brought each identifier and merge.",
    discussion: """
      Lists the profile's raw records in the order they were stored (the order links are decided \
      in, whatever their created_at), each with what it changed: a new profile, \
      an added cookie or email, a merge of another profile (and the identifiers that linked \
      them), or a link refused by the identifier cap. Prints {"profile": {...}, "entries": \
      [{"created_at", "cookie", "email", "change"}, ...]} with --json. Exits 3 when nobody has \
      that cookie or email.
      """)

  @OptionGroup var global: GlobalOptions
  @OptionGroup var who: PersonOptions

  func run() async throws {
    try await Output.withClient(global) { client in
      let h = try await client.history(who.person)
      if global.json {
        let entries = h.entries.map { e in
          JSONValue.object([
            ("created_at", .from(e.record.createdAt?.iso8601)), ("cookie", .string(e.record.cookie)),
            ("email", .from(e.record.email)), ("change", .string(e.change)),
          ])
        }
        Output.stdout(JSONValue.object([("profile", RecordJSON.json(h.summary)), ("entries", .array(entries))]).serialized())
      } else {
        var lines = ["profile #\(h.summary.id): \(h.summary.cookies.count) cookie(s), \(h.summary.emails.count) email(s), \(h.summary.records) record(s)"]
        for e in h.entries {
          lines.append("  \(e.record.createdAt?.iso8601 ?? "-")  \(e.record.cookie)  \(e.record.email ?? "-")  \(e.change)")
        }
        Output.stdout(lines.joined(separator: "\n"))
      }
    }
  }
}
