import AudienceClient
import AudienceCore
import AudienceWire
import Foundation
import Testing

/// The real audienced binary driven by the real client library and CLI.
@Suite("End to end", .serialized)
struct EndToEndTests {
  static let seed = """
    {"data": {"cookie": "user_cookie_id", "email": "user@example.com", "phone_number": "1234567890", \
    "created_at": "03/10/2025 15:30", "location": {"state": "California", "country": "USA", "city": "Los Angeles"}, \
    "demographics": {"age": 25, "gender": "Male", "income": "50000", "education": "Bachelor's"}, "interests": ["Tech", "Gaming"]}}
    """

  @Test func seedRecordThroughTheCLI() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let ingest = try CLI.run(["ingest", "--record", Self.seed, "--json"], socket: server.socketPath)
    #expect(ingest.status == 0, "\(ingest.stderr)")
    let summary = try CLI.json(ingest)
    #expect(summary["accepted"] == .int(1))
    #expect(summary["rejected"] == .int(0))
    #expect(summary["errors"] == .array([]))

    let user = try CLI.run(["user", "user_cookie_id", "--json"], socket: server.socketPath)
    #expect(user.status == 0, "\(user.stderr)")
    let json = try CLI.json(user)
    let data = try #require(json["data"])
    #expect(data["cookie"] == .string("user_cookie_id"))
    #expect(data["email"] == .string("user@example.com"))
    #expect(data["created_at"] == .string("2025-03-10T15:30:00"))
    #expect(data["location"]?["city"] == .string("Los Angeles"))
    #expect(data["demographics"]?["age"] == .int(25))
    #expect(data["interests"] == .array([.string("Tech"), .string("Gaming")]))
    #expect(json["profile"]?["records"] == .int(1))

    let missing = try CLI.run(["user", "nobody", "--json"], socket: server.socketPath)
    #expect(missing.status == 3)
    #expect(missing.stderr.contains("nobody"))

    let cohort = try CLI.run(
      ["cohort", "--cookie", "user_cookie_id", "--age-min", "20", "--age-max", "30", "--interests", "Gaming", "--json"],
      socket: server.socketPath)
    #expect(cohort.status == 0, "\(cohort.stderr)")
    let page = try CLI.json(cohort)
    #expect(page["total"] == .int(1))
    #expect(page["next_cursor"] == .null)
    let health = try CLI.run(["health", "--json"], socket: server.socketPath)
    #expect(try CLI.json(health)["profiles"] == .int(1))
    #expect(await server.stop() == 0)
  }

  @Test func jsonLinesFileWithBadLines() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let lines = [
      #"{"cookie": "c1", "email": "A@Example.com", "created_at": "2025-03-10T10:00:00", "demographics": {"age": 30}}"#,
      #"{"cookie": "c2", "email": "a@example.com", "created_at": "2025-03-11T10:00:00", "demographics": {"age": "abc"}}"#,
      "",
      #"{"cookie": "c3", "created_at": "13/45/2025 10:00"}"#,
      #"{"email": "nocookie@example.com"}"#,
      "{broken",
      #"{"cookie": "c4", "demographics": {"age": -5}}"#,
      #"{"cookie": "c5", "email": "a@example.com", "created_at": "2025-03-12T10:00:00", "interests": ["AI"]}"#,
    ]
    let path = server.directory + "/records.jsonl"
    try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
    let r = try CLI.run(["ingest", path, "--json"], socket: server.socketPath)
    #expect(r.status == 1)
    let s = try CLI.json(r)
    #expect(s["accepted"] == .int(2))
    #expect(s["rejected"] == .int(5))
    guard case .array(let errors)? = s["errors"] else { Issue.record("no errors array"); return }
    let byLine = errors.map { ($0["line"], $0["message"]) }
    #expect(byLine.map(\.0) == [.int(2), .int(4), .int(5), .int(6), .int(7)])
    let messages = byLine.compactMap { if case .string(let m)? = $0.1 { m } else { nil } }
    #expect(messages[0].contains("data.demographics.age"))
    #expect(messages[1].contains("data.created_at"))
    #expect(messages[2].contains("data.cookie"))
    #expect(messages[3].contains("JSON"))
    #expect(messages[4].contains("-5"))

    // The same file again changes nothing: every good line is a duplicate.
    let again = try CLI.json(try CLI.run(["ingest", path, "--json"], socket: server.socketPath))
    #expect(again["duplicates"] == .int(2))
    let user = try CLI.json(try CLI.run(["user", "c1", "--json"], socket: server.socketPath))
    #expect(user["profile"]?["cookies"] == .array([.string("c1"), .string("c5")]))
    #expect(user["profile"]?["repeated_emails"] == .array([.string("a@example.com")]))
    await server.stop()
  }

  @Test func pipelinedRequestsOnOneConnection() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let client = try await server.client()
    let n = 500
    try await withThrowingTaskGroup(of: Void.self) { group in
      for i in 0..<n {
        group.addTask {
          let raw = RawRecord(cookie: "c\(i)", email: "e\(i % 100)@example.com", createdAt: "2025-01-01T00:00:\(String(format: "%02d", i % 60))", age: i % 90)
          let s = try await client.ingest([raw])
          #expect(s.accepted == 1)
          let u = try await client.user(cookie: "c\(i)")
          #expect(u.summary.cookies.contains("c\(i)"))
        }
      }
      try await group.waitForAll()
    }
    let h = try await client.health()
    #expect(h.stats.profiles == 100)
    #expect(h.stats.records == n)
    // Paging visits every profile exactly once.
    var seen: [String] = []
    var cursor: String?
    repeat {
      let page = try await client.queryCohort(CohortQuery(limit: 7, cursor: cursor))
      #expect(page.total == 100)
      seen += page.users.compactMap(\.email)
      cursor = page.nextCursor
    } while cursor != nil
    #expect(seen.count == 100)
    #expect(Set(seen).count == 100)
    await client.close()
    await server.stop()
  }

  @Test func deadlinesAreEnforcedPerRequest() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let client = try await server.client()
    // A generous deadline passes; the request is answered normally.
    let h = try await client.health(timeoutMs: 5_000)
    #expect(h.status == "serving")
    await client.close()
    await server.stop()
  }
}
