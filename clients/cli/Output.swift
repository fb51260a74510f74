import AudienceCore
import ArgumentParser
import AudienceClient
import AudienceWire
internal import CSystemCalls
internal import Glibc

/// Writing results and mapping failures to exit codes.
enum Output {
  static func stdout(_ text: String) {
    emit(text, flush: false)
  }

  /// One line, flushed at once (for streams read through a pipe).
  static func line(_ text: String) {
    emit(text, flush: true)
  }

  private static func emit(_ text: String, flush: Bool) {
    var line = toTerminal ? Self.printable(text) : text
    line.append("\n")
    let failure = line.withUTF8 { audience_stdout_write($0.baseAddress, $0.count, flush ? 1 : 0) }
    if failure != 0 { standardOutputFailed(failure) }
  }

  /// Whether standard output is a terminal: stored values are then shown with their control
  /// characters replaced (`printable`).
  private static let toTerminal = isatty(1) != 0
  private static let errorsToTerminal = isatty(2) != 0

  /// `text` with control characters other than line breaks and tabs (C0, DEL, and C1 such as
  /// U+009B, which terminals honouring 8-bit controls read as an escape sequence) replaced by
  /// U+FFFD: a stored city could otherwise move the cursor, retitle the window or rewrite what
  /// an analyst sees. Written to a file or a pipe, output keeps every character.
  static func printable(_ text: String) -> String {
    func isControl(_ v: UInt32) -> Bool { (v < 0x20 && v != 0x0A && v != 0x09) || (0x7F...0x9F).contains(v) }
    guard text.unicodeScalars.contains(where: { isControl($0.value) }) else { return text }
    var out = String.UnicodeScalarView()
    for scalar in text.unicodeScalars { out.append(isControl(scalar.value) ? "\u{FFFD}" : scalar) }
    return String(out)
  }

  /// Flushes standard output; a failure ends the process (`standardOutputFailed`).
  static func flushStandardOutput() {
    let failure = audience_stdout_write(nil, 0, 1)
    if failure != 0 { standardOutputFailed(failure) }
  }

  /// Standard output cannot be written. A reader that went away (`audience watch | head -n 2`):
  /// the process ends as a tool that does not ignore SIGPIPE would, by that signal, silently
  /// (the client library ignores it, for its socket). Anything else (a full disk): said on
  /// standard error, exit 1. Either way, without going on (paging, watching) for nobody.
  static func standardOutputFailed(_ error: Int32) -> Never {
    if error == EPIPE {
      signal(SIGPIPE, SIG_DFL)
      raise(SIGPIPE)
    }
    stderr("audience: cannot write standard output: \(String(cString: strerror(error)))")
    _exit(1)
  }

  /// Output still buffered at exit is written then: a failure must change the exit status, not
  /// pass unseen (`audience analyze --json > /dev/full` exited 0).
  static func checkStandardOutputAtExit() {
    atexit { Output.flushStandardOutput() }
  }

  static func stderr(_ text: String) {
    // A message may quote what the server stored or was sent (a cookie not found).
    let line = (errorsToTerminal ? printable(text) : text) + "\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
  }

  /// The exit code for a failed request, after printing its message.
  static func failure(_ error: any Error, json: Bool) -> ExitCode {
    let status = Self.status(error)
    stderr("audience: \(status.code): \(status.message)")
    if json { stdout(JSONValue.object([("error", errorJSON(status))]).serialized()) }
    return exitCode(status)
  }

  /// A write that failed: the path and the system's reason on standard error, exit 1.
  static func cannotWrite(_ target: String) -> ExitCode {
    stderr("audience: cannot write \(target): \(String(cString: strerror(errno)))")
    return ExitCode(1)
  }

  /// A failure as a status.
  static func status(_ error: any Error) -> WireStatus { (error as? WireStatus) ?? WireStatus(.internal, "\(error)") }

  /// `{"code": ..., "message": ...}`
  static func errorJSON(_ status: WireStatus) -> JSONValue {
    .object([("code", .string("\(status.code)")), ("message", .string(status.message))])
  }

  /// 3 not found, 4 unavailable, 1 otherwise.
  static func exitCode(_ status: WireStatus) -> ExitCode {
    switch status.code {
    case .notFound: ExitCode(3)
    case .unavailable: ExitCode(4)
    default: ExitCode(1)
    }
  }

  /// A failed request, for a command that reports it in its own output (`jsonErrors: false`).
  struct RequestFailed: Error {
    var status: WireStatus
  }

  /// Connects, runs `body`, closes; failures become exit codes (printed as `{"error": ...}` with
  /// --json), or `RequestFailed` when `jsonErrors` is false.
  static func withClient(
    _ global: GlobalOptions, jsonErrors: Bool = true, _ body: (AudienceClient) async throws -> Void
  ) async throws {
    func fail(_ error: any Error) -> any Error {
      jsonErrors ? failure(error, json: global.json) : RequestFailed(status: status(error))
    }
    if let problem = global.socketPathProblem {
      // A usage error, as ArgumentParser reports one.
      stderr("Error: \(problem)")
      throw ExitCode(64)
    }
    let client: AudienceClient
    do {
      client = try await AudienceClient.connect(socketPath: global.socketPath, clientName: "audience-cli")
    } catch {
      throw fail(error)
    }
    do {
      try await body(client)
      await client.close()
    } catch let exit as ExitCode {
      await client.close()
      throw exit
    } catch {
      await client.close()
      throw fail(error)
    }
  }
}

enum Environment {
  /// The variable's value; nil when it is unset or set to nothing (the default then applies).
  static func value(_ name: String) -> String? {
    getenv(name).map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
  }
}
