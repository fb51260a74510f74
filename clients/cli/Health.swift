import ArgumentParser
internal import Glibc
import AudienceClient
import AudienceWire
import AudienceCore

/// `audience health`
struct Health: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Check that the server answers, and show its version and counts.",
    discussion: """
      Prints the server's status ("serving", or "degraded: ..." while its writes fail, such as on \
      a full disk: reads go on), version and counts ({"status", ...} with --json). Exits 0 when \
      serving, 1 when degraded, 4 when the server is down or does not answer within --timeout.
      """)

  @OptionGroup var global: GlobalOptions
  @Option(parsing: .unconditional, help: "Seconds to wait for the answer, then exit 4 (0: no limit).") var timeout: Double = 10

  func validate() throws {
    guard timeout >= 0 else { throw ValidationError("--timeout must be 0 or more") }
  }

  func run() async throws {
    // A server that accepts but never answers (stopped, hung) must not hang a script: past the
    // timeout the command says so and exits 4, as for a server that is down.
    if timeout > 0 {
      let (limit, json) = (timeout, global.json)
      Task.detached {
        try? await Task.sleep(for: .seconds(limit))
        _ = Output.failure(WireStatus(.unavailable, "no answer from the server within \(limit) s"), json: json)
        Glibc.exit(4)
      }
    }
    var serving = true
    try await Output.withClient(global) { client in
      let h = try await client.health()
      serving = h.status == "serving"
      let json = JSONValue.object([
        ("status", .string(h.status)), ("server_version", .string(h.serverVersion)),
        ("protocol_version", .int(Int64(client.server.protocolVersion))), ("store", .string(h.store)),
        ("profiles", .int(Int64(h.stats.profiles))), ("records", .int(Int64(h.stats.records))),
        ("repeated_emails", .int(Int64(h.stats.repeatedEmails))), ("uptime_seconds", .int(Int64(h.uptimeSeconds))),
        ("connections", .int(Int64(h.connections))),
      ])
      if global.json {
        Output.stdout(json.serialized())
      } else {
        Output.stdout(
          "\(h.status): audienced \(h.serverVersion), \(h.store) store, \(h.stats.profiles) profiles from \(h.stats.records) records, "
            + "\(h.stats.repeatedEmails) repeated emails, up \(h.uptimeSeconds)s, \(h.connections) connection(s)")
      }
    }
    // `audience health || alert` must see a full disk (it exited 0).
    if !serving { throw ExitCode(1) }
  }
}
