import ArgumentParser
import AudienceClient
import AudienceCore

/// `audience user COOKIE`
struct User: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Show the person behind a cookie: the merged profile and its identities.",
    discussion: """
      Prints {"data": {...}, "profile": {"cookies", "emails", "records", ...}} with --json, \
      data.cookie being the cookie asked for. Exits 3 when the cookie is unknown.
      """)

  @OptionGroup var global: GlobalOptions

  @Argument(help: "The cookie id.")
  var cookie: String

  func validate() throws {
    if cookie.allSatisfy(\.isWhitespace) { throw ValidationError("the cookie is empty") }
  }

  func run() async throws {
    try await Output.withClient(global) { client in
      let user = try await client.user(cookie: cookie)
      if global.json {
        Output.stdout(RecordJSON.json(user).serialized())
      } else {
        Output.stdout(Human.user(user))
      }
    }
  }
}
