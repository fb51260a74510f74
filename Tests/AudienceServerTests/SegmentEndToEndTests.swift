import AudienceClient
import AudienceCore
import Foundation
import Testing

/// `audience cohort --where` against the real server: segments, paging, freshness, syntax errors.
@Suite("Segments end to end", .serialized)
struct SegmentEndToEndTests {
  static func record(_ cookie: String, _ email: String, age: Int, gender: String, country: String, state: String,
                     income: String, interests: [String], at date: String = "2025-03-10T10:00:00") -> String {
    let list = interests.map { "\"\($0)\"" }.joined(separator: ", ")
    return #"{"cookie": "\#(cookie)", "email": "\#(email)", "created_at": "\#(date)", "#
      + #""location": {"country": "\#(country)", "state": "\#(state)", "city": "Somewhere"}, "#
      + #""demographics": {"age": \#(age), "gender": "\#(gender)", "income": "\#(income)"}, "interests": [\#(list)]}"#
  }

  static let people = [
    record("c1", "a@x.com", age: 25, gender: "Male", country: "USA", state: "Texas", income: "40000", interests: ["Gaming"]),
    record("c2", "b@x.com", age: 28, gender: "Female", country: "Canada", state: "Ontario", income: "60000", interests: ["AI"]),
    record("c3", "c@x.com", age: 35, gender: "Male", country: "Canada", state: "Ontario", income: "25000", interests: ["Stocks"]),
    record("c4", "d@x.com", age: 22, gender: "Female", country: "Canada", state: "Quebec", income: "High", interests: ["Gaming", "AI"]),
    record("c5", "e@x.com", age: 41, gender: "Male", country: "USA", state: "Ohio", income: "90000", interests: ["Crypto"]),
  ]

  func cookies(_ r: CLI.Result) throws -> [String] {
    let users = try CLI.json(r)["users"]
    guard case .array(let list)? = users else { return [] }
    return list.compactMap { if case .string(let c)? = $0["data"]?["cookie"] { c } else { nil } }
  }

  @Test func whereExpressionsSelectTheSegment() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let ingest = try CLI.run(["ingest", "-", "--json"], socket: server.socketPath, stdin: Self.people.joined(separator: "\n"))
    #expect(ingest.status == 0, "\(ingest.stderr)")

    func query(_ expr: String, _ extra: [String] = []) throws -> [String] {
      let r = try CLI.run(["cohort", "--where", expr, "--json"] + extra, socket: server.socketPath)
      #expect(r.status == 0, "\(expr): \(r.stderr)")
      return try cookies(r)
    }
    #expect(try query("age:20..30 and (interest:Gaming or interest:AI) and not country:USA") == ["c2", "c4"])
    #expect(try query("income:..30000") == ["c3"])
    #expect(try query("category:Finance or (gender:Male and state:Ontario)") == ["c3", "c5"])
    #expect(try query("income:high") == ["c4"])
    #expect(try query("interest:gaming", ["--country", "canada"]) == ["c4"])
    #expect(try query(#"city:"Somewhere" and age:40.."#) == ["c5"])

    // Paging: every match exactly once, in profile creation order.
    var seen: [String] = []
    var cursor: String? = nil
    repeat {
      var args = ["cohort", "--where", "age:..100", "--limit", "2", "--json"]
      if let cursor { args += ["--cursor", cursor] }
      let r = try CLI.run(args, socket: server.socketPath)
      #expect(r.status == 0, "\(r.stderr)")
      seen += try cookies(r)
      if case .string(let next)? = try CLI.json(r)["next_cursor"] { cursor = next } else { cursor = nil }
    } while cursor != nil
    #expect(seen == ["c1", "c2", "c3", "c4", "c5"])
    // --all: the same users, one JSON object per line, however small the pages.
    let all = try CLI.run(["cohort", "--where", "age:..100", "--limit", "2", "--all", "--json"], socket: server.socketPath)
    #expect(all.status == 0, "\(all.stderr)")
    let lines = all.stdout.split(separator: "\n").map(String.init)
    #expect(try lines.map { line in
      guard case .string(let c)? = try JSONValue(parsing: line)["data"]?["cookie"] else { return "?" }
      return c
    } == seen)
    let human = try CLI.run(["cohort", "--where", "age:..100", "--limit", "2", "--all"], socket: server.socketPath)
    #expect(human.stdout.hasPrefix("5 matching user(s)\n") && human.stdout.split(separator: "\n").count == 6, "\(human.stdout)")

    // Fresh on write: a query after the acknowledgement sees the record.
    let late = Self.record("c6", "f@x.com", age: 29, gender: "Female", country: "Mexico", state: "Jalisco", income: "55000", interests: ["AI"])
    #expect(try CLI.run(["ingest", "--record", late], socket: server.socketPath).status == 0)
    let count = try CLI.run(["cohort", "--where", "interest:AI", "--count", "--json"], socket: server.socketPath)
    #expect(try CLI.json(count)["total"] == .int(3))
    #expect(await server.stop() == 0)
  }

  @Test func syntaxErrorsSayWhereAndWhat() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let r = try CLI.run(["cohort", "--where", "age:20..30 and (interest:Gaming", "--json"], socket: server.socketPath)
    #expect(r.status == 64)
    #expect(r.stderr.contains(#"column 32: expected ")" to close the "(" at column 16"#), "\(r.stderr)")
    #expect(r.stderr.contains("age:20..30 and (interest:Gaming\n" + String(repeating: " ", count: 33) + "^"), "\(r.stderr)")
    let unknown = try CLI.run(["analyze", "--where", "colour:red"], socket: server.socketPath)
    #expect(unknown.status == 64)
    #expect(unknown.stderr.contains(#"unknown field "colour""#), "\(unknown.stderr)")
    #expect(await server.stop() == 0)
  }
}
