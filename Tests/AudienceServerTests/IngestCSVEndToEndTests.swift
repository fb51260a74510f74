import AudienceClient
import AudienceCore
import Foundation
import Testing

/// `audience ingest FILE.csv` against the real server.
@Suite("CSV ingest end to end", .serialized)
struct IngestCSVEndToEndTests {
  static let csv = """
    data.cookie,data.email,data.created_at,data.location.city,data.location.country,data.demographics.age,data.demographics.income,data.interests,notes
    c1,a@x.com,03/10/2025 15:30,"Washington, D.C.",USA,25.0,50000.0,"['Tech', 'Gaming']",ignored
    c2,b@x.com,2025-03-11T10:00:00,Toronto,Canada,abc,,AI;Crypto,
    c3,c@x.com,2025-03-12,Paris,France,,High,Movies|Drama,
    c4,"broken"quote,2025-03-12,Paris,France,30,,,
    ,d@x.com,2025-03-12,Paris,France,30,,,
    c5,e@x.com,"2025-03-13T08:00:00",Lyon,France,41,,,
    """

  /// A NUL byte cannot cross the protocol (the server reads C strings: "ab\0cd" would become the
  /// cookie "ab"), so the CLI refuses such a row by its line, in CSV and in JSON lines alike.
  @Test func aFieldWithANULByteIsRefusedNotCutShort() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let csv = server.directory + "/nul.csv"
    try "cookie,email\nab\u{0}cd,x@example.com\nok1,y@example.com\n".write(toFile: csv, atomically: true, encoding: .utf8)
    let jsonl = server.directory + "/nul.jsonl"
    try #"{"data":{"cookie":"ok2","interests":["a\u0000b"]}}"#.appending("\n").write(toFile: jsonl, atomically: true, encoding: .utf8)
    for (path, line, field) in [(csv, 2, "data.cookie"), (jsonl, 1, "data.interests[0]")] {
      let run = try CLI.run(["ingest", path, "--json"], socket: server.socketPath)
      #expect(run.status == 1, "\(run.stderr)")
      let summary = try CLI.json(run)
      #expect(summary["rejected"] == .int(1))
      guard case .array(let errors)? = summary["errors"] else { Issue.record("no errors"); continue }
      #expect(errors.first?["line"] == .int(Int64(line)))
      #expect(errors.first?["message"].map { "\($0)" }?.contains("\(field): contains a NUL byte") == true, "\(errors)")
    }
    #expect(try CLI.run(["user", "ab", "--json"], socket: server.socketPath).status != 0)
    #expect(try CLI.json(try CLI.run(["health", "--json"], socket: server.socketPath))["profiles"] == .int(1))
  }

  @Test func csvRowsBecomeRecordsAndBadRowsAreReportedByLine() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let path = server.directory + "/people.csv"
    try Self.csv.write(toFile: path, atomically: true, encoding: .utf8)

    let first = try CLI.run(["ingest", path, "--json"], socket: server.socketPath)
    #expect(first.status == 1, "\(first.stderr)")
    let summary = try CLI.json(first)
    #expect(summary["accepted"] == .int(3))
    #expect(summary["rejected"] == .int(3))
    guard case .array(let errors)? = summary["errors"] else { Issue.record("no errors"); return }
    #expect(errors.map { $0["line"] } == [.int(3), .int(5), .int(6)])
    #expect(errors[0]["message"].map { "\($0)" }?.contains("age") == true)
    #expect(errors[1]["message"].map { "\($0)" }?.contains("quote") == true)
    #expect(errors[2]["message"].map { "\($0)" }?.contains("cookie") == true)

    let user = try CLI.json(try CLI.run(["user", "c1", "--json"], socket: server.socketPath))
    #expect(user["data"]?["location"]?["city"] == .string("Washington, D.C."))
    #expect(user["data"]?["demographics"]?["age"] == .int(25))
    #expect(user["data"]?["demographics"]?["income"] == .string("50000"))
    #expect(user["data"]?["interests"] == .array([.string("Tech"), .string("Gaming")]))
    let c3 = try CLI.json(try CLI.run(["user", "c3", "--json"], socket: server.socketPath))
    #expect(c3["data"]?["interests"] == .array([.string("Movies"), .string("Drama")]))

    // Again: nothing new.
    let again = try CLI.json(try CLI.run(["ingest", path, "--json"], socket: server.socketPath))
    #expect(again["duplicates"] == .int(3))
    #expect(try CLI.json(try CLI.run(["health", "--json"], socket: server.socketPath))["profiles"] == .int(3))

    // --max-errors stops early; a file of unknown format is refused.
    let stopped = try CLI.run(["ingest", path, "--max-errors", "1"], socket: server.socketPath)
    #expect(stopped.status == 1)
    #expect(stopped.stderr.contains("stopped after 1 error"), "\(stopped.stderr)")
    try "cookie\nc1\n".write(toFile: server.directory + "/people.txt", atomically: true, encoding: .utf8)
    let unknown = try CLI.run(["ingest", server.directory + "/people.txt"], socket: server.socketPath)
    #expect(unknown.status != 0)
    #expect(unknown.stderr.contains("--format"), "\(unknown.stderr)")
    // Standard input with --format csv.
    let piped = try CLI.run(
      ["ingest", "-", "--format", "csv", "--json"], socket: server.socketPath, stdin: "cookie,age\nc9,33\n")
    #expect(try CLI.json(piped)["accepted"] == .int(1))
    #expect(await server.stop() == 0)
  }

  /// --max-errors stops reading at the error: every good row before it is sent and
  /// acknowledged (the full batches and the one being filled), none after it, and the summary
  /// counts what the server stored, though the whole file is one chunk.
  @Test func maxErrorsSendsTheRowsBeforeTheErrorAndNothingAfter() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let rows = (1...2_500).map { $0 == 1_601 ? "c\($0),abc" : "c\($0),30" }
    let path = server.directory + "/stop.csv"
    try ("cookie,age\n" + rows.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    let run = try CLI.run(["ingest", path, "--max-errors", "1", "--batch-size", "500", "--json"], socket: server.socketPath)
    #expect(run.status == 1, "\(run.stderr)")
    #expect(!run.stderr.contains("internal"), "\(run.stderr)")
    let summary = try CLI.json(run)
    #expect(summary["rejected"] == .int(1))
    #expect(summary["accepted"] == .int(1_600))
    #expect(summary["error"] == nil)
    #expect(summary["stopped_early"] == .bool(true))
    guard case .array(let errors)? = summary["errors"] else { Issue.record("no errors"); return }
    #expect(errors.map { $0["line"] } == [.int(1_602)])
    #expect(try CLI.json(try CLI.run(["health", "--json"], socket: server.socketPath))["profiles"] == .int(1_600))
    #expect(try CLI.run(["user", "c1600", "--json"], socket: server.socketPath).status == 0)
    #expect(try CLI.run(["user", "c1602", "--json"], socket: server.socketPath).status != 0)
    let text = try CLI.run(["ingest", path, "--max-errors", "1"], socket: server.socketPath)
    #expect(text.status == 1 && text.stderr.contains("stopped after 1 error") && !text.stderr.contains("internal"), "\(text.stderr)")
    #expect(await server.stop() == 0)
  }

  /// --max-errors stops at the line for what the server would refuse too (an age past 130, an
  /// empty cookie): such rows were counted when their batch was answered, so a batch of 500
  /// rows with 50 of them gave 50 rejections at --max-errors 1, and a second file was read on
  /// past the limit.
  @Test func maxErrorsStopsAtTheLineTheServerWouldRefuse() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let path = server.directory + "/ages.csv"
    let rows = (0..<500).map { "z\($0),\($0 % 10 == 1 ? 200 : 30)" }
    try ("cookie,age\n" + rows.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    let run = try CLI.run(["ingest", path, "--max-errors", "1", "--json"], socket: server.socketPath)
    let summary = try CLI.json(run)
    #expect(summary["rejected"] == .int(1), "\(run.stdout)")
    #expect(summary["accepted"] == .int(1), "\(run.stdout)")
    #expect(summary["stopped_early"] == .bool(true), "\(run.stdout)")
    guard case .array(let errors)? = summary["errors"] else { Issue.record("no errors"); return }
    #expect(errors.map { $0["line"] } == [.int(3)])
    #expect("\(errors)".contains("outside 0...130"), "\(errors)")
    // Two files: two empty cookies in the first, then a bad age in the second is the third.
    let a = server.directory + "/ma.jsonl", b = server.directory + "/mb.csv"
    try "{\"cookie\":\"a1\"}\n{\"cookie\":\"\"}\n{\"cookie\":\"a2\"}\n{\"cookie\":\" \"}\n".write(
      toFile: a, atomically: true, encoding: .utf8)
    try "cookie,age\nb1,1\nb2,x\nb3,3\nb4,y\nb5,5\n".write(toFile: b, atomically: true, encoding: .utf8)
    let two = try CLI.json(try CLI.run(["ingest", a, b, "--max-errors", "3", "--json"], socket: server.socketPath))
    #expect(two["rejected"] == .int(3) && two["accepted"] == .int(3) && two["stopped_early"] == .bool(true), "\(two)")
    #expect(try CLI.run(["user", "b1"], socket: server.socketPath).status == 0)
    #expect(try CLI.run(["user", "b3"], socket: server.socketPath).status == 3)
    #expect(await server.stop() == 0)
  }

  /// A last record reaching --max-errors is no early stop: nothing was left unsent, and the
  /// summary said "stopped_early": true (and "stopped after 1 error"). A line after it is one.
  @Test func theLastRecordReachingMaxErrorsIsNoEarlyStop() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let cases: [(String, String, Bool)] = [
      ("last.csv", "cookie,age\nc1,30\nc2,abc\n", false),
      ("unterminated.csv", "cookie,age\nc1,30\nc2,abc", false),
      ("blank-after.csv", "cookie,age\nc1,30\nc2,abc\n\n\n", false),
      ("more.csv", "cookie,age\nc1,30\nc2,abc\nc3,31\n", true),
      ("last.jsonl", "{\"cookie\": \"j1\"}\n{\"cookie\": \"j2\", \"demographics\": {\"age\": \"abc\"}}\n\n", false),
      ("more.jsonl", "{\"cookie\": \"j1\", \"demographics\": {\"age\": \"abc\"}}\n{\"cookie\": \"j3\"}\n", true),
      // Refused by the server (an age past 130 is the server's check too), the last line.
      ("server.jsonl", "{\"cookie\": \"j4\"}\n{\"cookie\": \"j5\", \"demographics\": {\"age\": 200}}\n", false),
    ]
    for (file, text, early) in cases {
      let path = server.directory + "/" + file
      try text.write(toFile: path, atomically: true, encoding: .utf8)
      let run = try CLI.run(["ingest", path, "--max-errors", "1", "--json"], socket: server.socketPath)
      #expect(run.status == 1, "\(file): \(run.stderr)")
      let summary = try CLI.json(run)
      #expect(summary["rejected"] == .int(1), "\(file): \(run.stdout)")
      #expect(summary["stopped_early"] == .bool(early), "\(file): \(run.stdout)")
      let text = try CLI.run(["ingest", path, "--max-errors", "1"], socket: server.socketPath)
      #expect(text.stderr.contains("stopped after 1 error") == early, "\(file): \(text.stderr)")
    }
    // The limit reached at a file's end, then a CSV file of a header alone: no record was left.
    let header = server.directory + "/header.csv"
    try "cookie,email\n".write(toFile: header, atomically: true, encoding: .utf8)
    let two = try CLI.run(["ingest", server.directory + "/last.jsonl", header, "--max-errors", "1", "--json"], socket: server.socketPath)
    #expect(try CLI.json(two)["stopped_early"] == .bool(false), "\(two.stdout)")
    #expect(await server.stop() == 0)
  }

  @Test func aHeaderWithoutCookieIsRefused() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let r = try CLI.run(["ingest", "-", "--format", "csv"], socket: server.socketPath, stdin: "email,age\na@x.com,3\n")
    #expect(r.status != 0)
    #expect(r.stderr.contains("no cookie column"), "\(r.stderr)")
    #expect(await server.stop() == 0)
  }

  @Test func genIsDeterministicAndIngestsWithMerges() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let a = server.directory + "/a.csv", b = server.directory + "/b.csv"
    for path in [a, b] {
      let r = try CLI.run(["gen", "--count", "2000", "--seed", "7", "--format", "csv", "--output", path], socket: server.socketPath)
      #expect(r.status == 0, "\(r.stderr)")
    }
    let textA = try String(contentsOfFile: a, encoding: .utf8)
    #expect(textA == (try String(contentsOfFile: b, encoding: .utf8)))
    #expect(textA.split(separator: "\n").count == 2001)
    let other = try CLI.run(["gen", "--count", "2000", "--seed", "8"], socket: server.socketPath)
    #expect(other.stdout.split(separator: "\n").count == 2000)
    #expect(other.stdout.split(separator: "\n").first?.hasPrefix(#"{"data":{"cookie":"c0""#) == true)

    let summary = try CLI.json(try CLI.run(["ingest", a, "--json"], socket: server.socketPath))
    #expect(summary["accepted"] == .int(2000))
    guard case .int(let merged)? = summary["merged"], case .int(let updated)? = summary["updated"] else {
      Issue.record("no counts"); return
    }
    #expect(merged > 5 && updated > 100, "merged \(merged), updated \(updated)")
    let health = try CLI.json(try CLI.run(["health", "--json"], socket: server.socketPath))
    guard case .int(let repeated)? = health["repeated_emails"] else { Issue.record("no repeated_emails"); return }
    #expect(repeated > 50)
    #expect(await server.stop() == 0)
  }

  @Test func theIdentifierCapIsReportedByLine() async throws {
    let server = ServerProcess(arguments: ["--max-identifiers-per-profile", "2"])
    try await server.start()
    defer { server.removeFiles() }
    let r = try CLI.run(
      ["ingest", "-", "--format", "csv", "--json"], socket: server.socketPath,
      stdin: "cookie,email\nc1,shared@x.com\nc2,shared@x.com\n")
    #expect(r.status == 0, "\(r.stderr)")
    let summary = try CLI.json(r)
    #expect(summary["accepted"] == .int(2))
    #expect(summary["capped"] == .int(1))
    guard case .array(let warnings)? = summary["warnings"] else { Issue.record("no warnings"); return }
    #expect(warnings.first?["line"] == .int(3))
    #expect(try CLI.json(try CLI.run(["health", "--json"], socket: server.socketPath))["profiles"] == .int(2))
    #expect(await server.stop() == 0)
  }

  /// A DataFrame of the records' `data` objects, not normalized, writes `location` and
  /// `demographics` as columns of dictionaries: they were ignored without a word (city and age
  /// lost, exit 0); each is now a warning naming the column.
  @Test func groupColumnsAreWarnedOf() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let r = try CLI.run(
      ["ingest", "-", "--format", "csv", "--json"], socket: server.socketPath,
      stdin: "cookie,location,demographics\ng1,\"{'city': 'Nice'}\",\"{'age': 30}\"\n")
    let summary = try CLI.json(r)
    #expect(summary["accepted"] == .int(1), "\(r.stdout)")
    guard case .array(let warnings)? = summary["warnings"] else { Issue.record("no warnings: \(r.stdout)"); return }
    #expect(warnings.count == 2 && warnings.allSatisfy { $0["line"] == .int(1) }, "\(warnings)")
    #expect("\(warnings)".contains("column \\\"location\\\" is not read") || "\(warnings)".contains("column \"location\" is not read"), "\(warnings)")
    #expect("\(warnings)".contains("demographics.age"), "\(warnings)")
    #expect(await server.stop() == 0)
  }
}
