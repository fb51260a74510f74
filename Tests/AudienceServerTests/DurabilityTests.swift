import AudienceClient
import AudienceCore
import AudienceWire
import Foundation
import Testing

@Suite("Durability and shutdown", .serialized)
struct DurabilityTests {
  @Test func acknowledgedWritesSurviveKill9() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let client = try await server.client()
    var acknowledged: [String] = []
    for batch in 0..<20 {
      let records = (0..<50).map { i in
        RawRecord(cookie: "b\(batch)-\(i)", email: "p\(i)@example.com", createdAt: "2025-02-01T00:\(String(format: "%02d", batch)):00")
      }
      let s = try await client.ingest(records)
      #expect(s.accepted == 50)
      acknowledged += records.map(\.cookie)
    }
    await client.close()
    await server.stop(signal: SIGKILL)

    let restarted = ServerProcess(directory: server.directory)
    try await restarted.start()
    let c2 = try await restarted.client()
    let health = try await c2.health()
    #expect(health.stats.records == acknowledged.count)
    #expect(health.stats.profiles == 50)
    #expect(health.stats.repeatedEmails == 50)
    for cookie in acknowledged.shuffled().prefix(50) {
      let u = try await c2.user(cookie: cookie)
      #expect(u.summary.cookies.count == 20)
    }
    await c2.close()
    #expect(await restarted.stop() == 0)
  }

  @Test func sigtermFinishesInFlightAndRemovesTheSocket() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let client = try await server.client()
    // Many requests in flight when SIGTERM arrives: every one is answered, none lost.
    let results = try await withThrowingTaskGroup(of: Int.self) { group in
      for i in 0..<100 {
        group.addTask {
          do {
            return try await client.ingest([RawRecord(cookie: "t\(i)", createdAt: "2025-01-01T00:00:00")]).accepted
          } catch let status as WireStatus where status.code == .unavailable {
            return 0
          }
        }
      }
      try await Task.sleep(for: .milliseconds(2))
      if let pid = server.process?.processIdentifier { kill(pid, SIGTERM) }
      return try await group.reduce(into: [Int]()) { $0.append($1) }
    }
    let acknowledged = results.reduce(0, +)
    #expect(await server.stop() == 0)
    #expect(!FileManager.default.fileExists(atPath: server.socketPath))
    #expect(server.log_.contains("shutting down"))

    let restarted = ServerProcess(directory: server.directory)
    try await restarted.start()
    let c2 = try await restarted.client()
    #expect(try await c2.health().stats.records == acknowledged)
    await c2.close()
    await restarted.stop()
  }

  @Test func socketIsCreatedOwnerAndGroupOnly() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let attributes = try FileManager.default.attributesOfItem(atPath: server.socketPath)
    let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
    #expect(mode == 0o660)
    await server.stop()
  }

  @Test func aSecondServerDoesNotStealALiveSocket() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: ServerProcess.binDirectory + "/audienced")
    p.arguments = ["--socket", server.socketPath, "--data-dir", server.directory + "/data2"]
    let err = Pipe()
    p.standardError = err
    p.standardOutput = Pipe()
    try p.run()
    let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    #expect(p.terminationStatus != 0)
    #expect(text.contains("already listening"))
    // Said before its store opened: its data directory was made, and left, for nothing.
    #expect(!FileManager.default.fileExists(atPath: server.directory + "/data2"))
    let c = try await server.client()
    #expect(try await c.health().status == "serving")
    await c.close()
    await server.stop()
  }
  /// libmongoc keeps its counters in /dev/shm/mongoc-<pid>, removed only on a clean exit; the
  /// server unlinks the name at start, so a killed server leaves nothing behind (and a later
  /// process with the same pid gets no "Falling back to malloc" warning).
  @Test func aKilledServerLeavesNothingInSharedMemory() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let pid = server.process!.processIdentifier
    let segment = "/dev/shm/mongoc-\(pid)"
    #expect(!FileManager.default.fileExists(atPath: segment), "\(segment) while the server runs")
    #expect(await server.stop(signal: SIGKILL) == SIGKILL)
    #expect(!FileManager.default.fileExists(atPath: segment), "\(segment) left by a killed server")
  }
}
