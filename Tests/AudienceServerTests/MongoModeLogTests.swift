import Foundation
import Testing

/// audienced on the MongoDB store, with nothing listening at the URI.
@Suite("MongoDB mode logs", .serialized)
struct MongoModeLogTests {
  /// libmongoc's own debug lines (one every half second while MongoDB is down, on standard
  /// output) bypassed --log-level; only its warnings and errors are written now.
  @Test func libmongocDebugLinesFollowTheLogLevel() async throws {
    let dir = NSTemporaryDirectory() + "/aud-mongo-log-\(getpid())"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let socket = dir + "/s.sock", logPath = dir + "/out.log"
    _ = FileManager.default.createFile(atPath: logPath, contents: nil)
    let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
    let p = Process()
    p.executableURL = URL(fileURLWithPath: ServerProcess.binDirectory + "/audienced")
    p.arguments = ["--socket", socket, "--store", "mongodb", "--mongo-uri", "mongodb://127.0.0.1:1/", "--log-level", "error",
      "--exit-with-parent"]
    p.standardOutput = log  // libmongoc writes its debug lines here
    p.standardError = log
    try p.run()
    for _ in 0..<100 where !FileManager.default.fileExists(atPath: socket) { try await Task.sleep(for: .milliseconds(50)) }
    _ = try? CLI.run(["health", "--timeout", "2"], socket: socket)
    try await Task.sleep(for: .seconds(1))
    kill(p.processIdentifier, SIGTERM)
    p.waitUntilExit()
    let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    #expect(!text.contains("DEBUG:"), "\(text.suffix(1000))")
  }
}
