import AudienceCore
import ArgumentParser
import AudienceClient
import AudienceWire
internal import Glibc

/// Writing results and mapping failures to exit codes.
enum Output {
  static func stdout(_ text: String) {
    print(text)
  }

  /// One line, flushed at once (for streams read through a pipe).
  static func line(_ text: String) {
    print(text)
    fflush(nil)  // all output streams
  }

  static func stderr(_ text: String) {
    let line = text + "\n"
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
  static func value(_ name: String) -> String? {
    getenv(name).map { String(cString: $0) }
  }
}
