import ArgumentParser

/// `audience`: the command-line client of audienced.
@main
struct Audience: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "audience",
    abstract: "Talk to an Audience server: ingest records, look up people, segment cohorts.",
    discussion: """
      Every subcommand takes --socket PATH (env AUDIENCE_SOCKET, default ./audience.sock) and \
      --json for machine-readable output on stdout (messages go to stderr).

      Exit codes: 0 success; 1 some records were rejected, the request failed, or health found the server degraded; \
      3 not found; 4 the server is unavailable; 64 bad usage; 66 an input file cannot be opened; \
      130 an ingest was interrupted; 141 the reader of standard output went away (SIGPIPE). See README.md, "Scripting the CLI".
      """,
    subcommands: [Ingest.self, User.self, Cohort.self, Watch.self, Analyze.self, Health.self, Gen.self, Export.self, History.self, Forget.self, Split.self])

  /// Lets the global options stand before the subcommand too (`audience --socket S user C`):
  /// ArgumentParser binds options to the subcommand that declares them, so they are moved
  /// behind the subcommand's name before parsing.
  static func main() async {
    Output.checkStandardOutputAtExit()
    let arguments = reorderGlobalOptions(Array(CommandLine.arguments.dropFirst()))
    do {
      var command = try parseAsRoot(arguments)
      if var asyncCommand = command as? any AsyncParsableCommand {
        try await asyncCommand.run()
      } else {
        try command.run()
      }
    } catch {
      exit(withError: error)
    }
  }

  /// Moves leading `--socket PATH`, `--socket=PATH` and `--json` behind the first other argument.
  static func reorderGlobalOptions(_ args: [String]) -> [String] {
    var globals: [String] = []
    var i = 0
    while i < args.count {
      let a = args[i]
      if a == "--json" || a.hasPrefix("--socket=") {
        globals.append(a); i += 1
      } else if a == "--socket", i + 1 < args.count {
        globals.append(contentsOf: [a, args[i + 1]]); i += 2
      } else {
        break
      }
    }
    guard !globals.isEmpty, i < args.count else { return args }
    return [args[i]] + globals + args[(i + 1)...]
  }
}

/// Options every subcommand takes.
struct GlobalOptions: ParsableArguments {
  @Option(name: .long, help: "The server's Unix socket (env AUDIENCE_SOCKET; default ./audience.sock).")
  var socket: String?

  @Flag(name: .long, help: "Print machine-readable JSON on stdout.")
  var json = false

  var socketPath: String { socket ?? Environment.value("AUDIENCE_SOCKET") ?? "./audience.sock" }

  func validate() throws {
    if socket?.isEmpty == true { throw ValidationError("--socket is empty") }
  }

  /// Why the socket path cannot be connected to at all (longer than sockaddr_un's 108 bytes, its
  /// terminating NUL included), checked by the commands that connect; nil when it may be.
  var socketPathProblem: String? {
    socketPath.utf8.count > 107
      ? "\(socket == nil ? "AUDIENCE_SOCKET" : "--socket"): the path is longer than a Unix socket address holds (107 bytes)"
      : nil
  }
}
