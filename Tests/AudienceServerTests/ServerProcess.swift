import AudienceCore
import AudienceClient
import AudienceWire
import Foundation
import Testing

/// The real `audienced` binary, started on a temporary socket and data directory.
final class ServerProcess: @unchecked Sendable {
  static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
  static let binDirectory = ProcessInfo.processInfo.environment["AUDIENCE_BIN_DIR"]
    ?? packageRoot.appendingPathComponent(".build/debug").path

  let directory: String
  let socketPath: String
  let dataDirectory: String
  let logPath: String
  let extraArguments: [String]
  private(set) var process: Process?

  /// - Parameters:
  ///   - directory: reuse a directory (to restart on the same data); a new one when nil.
  ///   - arguments: more flags for audienced.
  init(directory: String? = nil, arguments: [String] = []) {
    let dir = directory ?? TemporaryDirectories.make()
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    self.directory = dir
    socketPath = dir + "/s.sock"
    dataDirectory = dir + "/data"
    logPath = dir + "/audienced.log"
    extraArguments = arguments
  }

  /// A test that stops early (a failed `try`) must not leave its server running.
  deinit {
    if let p = process, p.isRunning { kill(p.processIdentifier, SIGKILL) }
  }

  /// Starts audienced and waits until it accepts connections.
  func start() async throws {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: Self.binDirectory + "/audienced")
    // --exit-with-parent: a test run that crashes does not leave its servers running.
    p.arguments = ["--socket", socketPath, "--data-dir", dataDirectory, "--log-level", "debug", "--exit-with-parent"] + extraArguments
    _ = FileManager.default.createFile(atPath: logPath, contents: nil)
    let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
    log.seekToEndOfFile()
    p.standardOutput = log
    p.standardError = log
    try p.run()
    process = p
    for _ in 0..<300 {
      if FileManager.default.fileExists(atPath: socketPath) {
        do {
          await (try AudienceClient.connect(socketPath: socketPath)).close()
          return
        } catch let status as WireStatus where status.code == .permissionDenied {
          return  // listening, and refusing us on purpose (--allow-uid)
        } catch {}
      }
      guard p.isRunning else { break }
      try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("audienced did not start; log:\n\(log_)")
    throw CancellationError()
  }

  var log_: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

  func client() async throws -> AudienceClient { try await AudienceClient.connect(socketPath: socketPath) }

  /// Sends a signal and waits for the process to exit; returns its exit status.
  @discardableResult
  func stop(signal: Int32 = SIGTERM) async -> Int32 {
    guard let p = process else { return -1 }
    kill(p.processIdentifier, signal)
    for _ in 0..<500 where p.isRunning { try? await Task.sleep(for: .milliseconds(10)) }
    process = nil
    return p.terminationStatus
  }

  func removeFiles() { try? FileManager.default.removeItem(atPath: directory) }
}

/// The data directories `ServerProcess` makes, removed when the test process exits: a test may
/// start a server again on one after the first is gone, so none is removed sooner (a test that
/// calls `removeFiles` removes its own at once). Before, each `make test` left a few in /tmp.
enum TemporaryDirectories {
  private static let lock = NSLock()
  nonisolated(unsafe) private static var paths: [String] = []
  private static let removedAtExit: Void = { atexit { TemporaryDirectories.removeAll() } }()

  /// A new path under /tmp (short: a socket path must fit in 108 bytes), registered for removal.
  static func make() -> String {
    _ = removedAtExit
    let path = "/tmp/aud-" + String(UUID().uuidString.prefix(8))
    lock.withLock { paths.append(path) }
    return path
  }

  static func removeAll() {
    for path in lock.withLock({ paths }) { try? FileManager.default.removeItem(atPath: path) }
  }
}

/// Runs the `audience` CLI.
struct CLI {
  struct Result {
    var status: Int32
    var stdout: String
    var stderr: String
  }

  /// Runs the `audience` CLI on `socket`; as another user (through runuser, which needs root)
  /// when `user` is given.
  static func run(_ arguments: [String], socket: String, stdin: String? = nil, user: String? = nil) throws -> Result {
    let p = Process()
    let binary = ServerProcess.binDirectory + "/audience"
    if let user {
      p.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
      p.arguments = ["-u", user, "--", binary, "--socket", socket] + arguments
    } else {
      p.executableURL = URL(fileURLWithPath: binary)
      p.arguments = ["--socket", socket] + arguments
    }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    let input = Pipe()
    p.standardInput = input
    try p.run()
    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
    try input.fileHandleForWriting.close()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
  }

  /// Parses stdout as one JSON document.
  static func json(_ r: Result) throws -> JSONValue {
    try JSONValue(parsing: r.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
  }
}
