import Foundation
import Testing

/// The repository's MongoDB wire-protocol test server (scripts/mongo-test-server: mockupdb +
/// mongomock), started once per test process on a free port; it exits with the process.
/// Each test uses a database of its own.
enum MongoTestServer {
  static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

  /// The Python with mockupdb and mongomock: `AUDIENCE_PYTHON`, or the repository's `.venv`
  /// (`make test` creates it).
  static var python: String {
    ProcessInfo.processInfo.environment["AUDIENCE_PYTHON"] ?? packageRoot.appendingPathComponent(".venv/bin/python").path
  }

  private static let started: Result<Int, any Error> = Result {
    let dir = "/tmp/aud-mongo-" + String(UUID().uuidString.prefix(8))
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let portFile = dir + "/port"
    let p = Process()
    p.executableURL = URL(fileURLWithPath: python)
    p.arguments = [packageRoot.appendingPathComponent("scripts/mongo-test-server").path, "--port-file", portFile, "--exit-with-parent"]
    let log = FileHandle(forWritingAtPath: "/dev/null")
    p.standardOutput = log
    try p.run()
    for _ in 0..<500 {
      if let text = try? String(contentsOfFile: portFile, encoding: .utf8), let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
        try? FileManager.default.removeItem(atPath: dir)  // the server needs it no more
        return port
      }
      guard p.isRunning else { break }
      Thread.sleep(forTimeInterval: 0.02)
    }
    throw TestServerError(message: "scripts/mongo-test-server did not start with \(python) (run `make venv`)")
  }

  struct TestServerError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
  }

  /// The connection string of the running test server.
  static func uri() throws -> String { "mongodb://127.0.0.1:\(try started.get())/" }

  /// A fresh database name.
  static func database() -> String { "conformance_" + String(UUID().uuidString.prefix(8)).lowercased() }
}
