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
    let status = (error as? WireStatus) ?? WireStatus(.internal, "\(error)")
    stderr("audience: \(status.code): \(status.message)")
    if json {
      stdout(JSONValue.object([("error", .object([("code", .string("\(status.code)")), ("message", .string(status.message))]))]).serialized())
    }
    switch status.code {
    case .notFound: return ExitCode(3)
    case .unavailable: return ExitCode(4)
    default: return ExitCode(1)
    }
  }

  /// Connects, runs `body`, closes; failures become exit codes.
  static func withClient(_ global: GlobalOptions, _ body: (AudienceClient) async throws -> Void) async throws {
    let client: AudienceClient
    do {
      client = try await AudienceClient.connect(socketPath: global.socketPath, clientName: "audience-cli")
    } catch {
      throw failure(error, json: global.json)
    }
    do {
      try await body(client)
      await client.close()
    } catch let exit as ExitCode {
      await client.close()
      throw exit
    } catch {
      await client.close()
      throw failure(error, json: global.json)
    }
  }
}

enum Environment {
  static func value(_ name: String) -> String? {
    getenv(name).map { String(cString: $0) }
  }
}
