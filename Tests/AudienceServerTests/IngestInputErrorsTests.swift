import AudienceCore
import Foundation
import Testing

/// `audience ingest` on inputs that are wrong as a whole or in their bytes (found by a session
/// trying the CLI as an adversarial user): each is reported by file and line, the good records
/// around it are kept, and nothing is stored that was not sent as it was written.
@Suite("Ingest input errors end to end", .serialized)
struct IngestInputErrorsTests {
  static func write(_ bytes: [UInt8], _ path: String) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
  }

  static func errors(_ summary: JSONValue) -> [JSONValue] {
    if case .array(let errors)? = summary["errors"] { return errors }
    return []
  }

  /// Invalid UTF-8 in a JSON line used to be decoded with U+FFFD in place of each bad byte: two
  /// cookies differing only there were stored as one person. A BOM before the first line is dropped.
  @Test func jsonLinesThatAreNotUTF8AreRejectedByLine() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let path = server.directory + "/bad.jsonl"
    let lines: [[UInt8]] = [
      [0xEF, 0xBB, 0xBF] + Array(#"{"data":{"cookie":"bom1"}}"#.utf8),
      Array(#"{"data":{"cookie":"bad"#.utf8) + [0xFE] + Array(#"","email":"one@x.com"}}"#.utf8),
      Array(#"{"data":{"cookie":"bad"#.utf8) + [0xFF] + Array(#"","email":"two@x.com"}}"#.utf8),
      Array(#"{"data":{"cookie":"good1"}}"#.utf8),
    ]
    try Self.write(Array(lines.joined(separator: [0x0A])) + [0x0A], path)
    let run = try CLI.run(["ingest", path, "--json"], socket: server.socketPath)
    #expect(run.status == 1, "\(run.stderr)")
    let summary = try CLI.json(run)
    #expect(summary["accepted"] == .int(2))
    #expect(summary["rejected"] == .int(2))
    #expect(Self.errors(summary).map { $0["line"] } == [.int(2), .int(3)])
    #expect(Self.errors(summary).first?["message"] == .string("the line is not valid UTF-8"))
    #expect(try CLI.run(["user", "bom1", "--json"], socket: server.socketPath).status == 0)
    #expect(try CLI.run(["user", "bad\u{FFFD}", "--json"], socket: server.socketPath).status == 3)
    // Files joined with `cat`: the second's byte order mark starts a later line (it was
    // "invalid JSON at column 1"). A short array on a line says it is one; CSV read as JSON
    // lines says to give --format csv.
    let joined = server.directory + "/joined.jsonl"
    try Self.write(Array(#"{"cookie":"j1"}"#.utf8) + [0x0A, 0xEF, 0xBB, 0xBF] + Array(#"{"cookie":"bom2"}"#.utf8) + Array("\n[{\"cookie\":\"a\"}]\n".utf8), joined)
    let two = try CLI.json(try CLI.run(["ingest", joined, "--json"], socket: server.socketPath))
    #expect(two["accepted"] == .int(2), "\(two)")
    #expect("\(Self.errors(two))".contains("a JSON array, not a record object"), "\(two)")
    let csv = try CLI.json(try CLI.run(["ingest", "-", "--json"], socket: server.socketPath, stdin: "cookie,age\nc1,3\n"))
    #expect("\(Self.errors(csv))".contains("if this is CSV, give --format csv"), "\(csv)")
    #expect(await server.stop() == 0)
  }

  /// Batches are cut to fit the server's frame limit; a record too large for any batch is
  /// rejected by its line, and the records around it are kept (the server used to close the
  /// connection on the frame, and nothing of the file was stored).
  @Test func batchesFitTheFrameLimitAndALargerRecordIsRejectedByLine() async throws {
    let server = ServerProcess(arguments: ["--max-frame-bytes", "65536"])
    try await server.start()
    defer { server.removeFiles() }
    let wide = String(repeating: "x", count: 1000)
    let csv = server.directory + "/wide.csv"
    let rows = (0..<300).map { "w\($0),\(wide),\(wide),\(wide)" }
    try ("cookie,city,state,country\n" + rows.joined(separator: "\n") + "\n").write(toFile: csv, atomically: true, encoding: .utf8)
    let wideRun = try CLI.run(["ingest", csv, "--json"], socket: server.socketPath)
    #expect(wideRun.status == 0, "\(wideRun.stderr)")
    #expect(try CLI.json(wideRun)["accepted"] == .int(300))

    let jsonl = server.directory + "/big.jsonl"
    let many = Array(repeating: "\"\(String(repeating: "y", count: 1000))\"", count: 100).joined(separator: ",")
    try [#"{"data":{"cookie":"big-a"}}"#, #"{"data":{"cookie":"big-b","interests":[\#(many)]}}"#, #"{"data":{"cookie":"big-c"}}"#]
      .joined(separator: "\n").appending("\n").write(toFile: jsonl, atomically: true, encoding: .utf8)
    let bigRun = try CLI.run(["ingest", jsonl, "--json"], socket: server.socketPath)
    #expect(bigRun.status == 1, "\(bigRun.stderr)")
    let summary = try CLI.json(bigRun)
    #expect(summary["accepted"] == .int(2))
    #expect(summary["error"] == nil)
    #expect(Self.errors(summary).map { $0["line"] } == [.int(2)])
    let message = "\(Self.errors(summary).first?["message"] ?? .null)"
    #expect(message.contains("frame limit"), "\(message)")
    #expect(try CLI.run(["user", "big-c", "--json"], socket: server.socketPath).status == 0)
    #expect(await server.stop() == 0)
  }

  /// A JSON line longer than any record can be (four frames) is measured, not kept: a file with
  /// no line breaks (a 1 GiB line took 4 GB of the CLI's memory) or a JSON array on one line is
  /// rejected by its line, said so, and the lines around it are sent.
  @Test func aLineLongerThanAnyRecordIsMeasuredNotKept() async throws {
    let server = ServerProcess(arguments: ["--max-frame-bytes", "65536"])
    try await server.start()
    defer { server.removeFiles() }
    let jsonl = server.directory + "/long.jsonl"
    let array = "[" + (0..<20_000).map { #"{"cookie": "x\#($0)"}"# }.joined(separator: ",") + "]"
    try [#"{"cookie":"l1"}"#, #"{"cookie":""# + String(repeating: "a", count: 1 << 20) + #""}"#, #"{"cookie":"l3"}"#, array, #"{"cookie":"l5"}"#]
      .joined(separator: "\n").write(toFile: jsonl, atomically: true, encoding: .utf8)
    let run = try CLI.run(["ingest", jsonl, "--json"], socket: server.socketPath)
    #expect(run.status == 1, "\(run.stderr)")
    let summary = try CLI.json(run)
    #expect(summary["accepted"] == .int(3))
    let errors = Self.errors(summary)
    #expect(errors.map { $0["line"] } == [.int(2), .int(4)])
    let longMessage = "\(errors.first?["message"] ?? .null)", arrayMessage = "\(errors.last?["message"] ?? .null)"
    #expect(longMessage.contains("the line is 1048589 bytes, longer than any record can be"), "\(errors)")
    #expect(arrayMessage.contains("this looks like a JSON array"), "\(errors)")
    #expect(await server.stop() == 0)
  }

  /// Every file is checked before anything is sent: a missing file or a directory among them
  /// stores nothing (a typo in the last name used to leave the first files half sent, and the
  /// summary said 0). A file whose header is unusable is reported as a whole, and the other files
  /// are sent.
  @Test func filesAreCheckedFirstAndABadFileDoesNotStopTheOthers() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let good = server.directory + "/good.csv", later = server.directory + "/later.csv"
    try ("cookie,age\n" + (1...2_500).map { "g\($0),30" }.joined(separator: "\n") + "\n").write(toFile: good, atomically: true, encoding: .utf8)
    try "cookie,age\nl1,31\n".write(toFile: later, atomically: true, encoding: .utf8)
    // Exit 66 (sysexits' EX_NOINPUT), not the 1 of rejected records; with --json the summary's
    // usual shape, all zero, with the error.
    let missing = try CLI.run(["ingest", good, server.directory + "/nope.csv", "--json"], socket: server.socketPath)
    #expect(missing.status == 66)
    #expect(missing.stderr.contains("cannot open \(server.directory)/nope.csv: No such file or directory"), "\(missing.stderr)")
    let missingJSON = try CLI.json(missing)
    #expect(missingJSON["accepted"] == .int(0) && missingJSON["stopped_early"] == .bool(false))
    // Standard input twice: a usage error (the second read nothing).
    let twice = try CLI.run(["ingest", "-", good, "-"], socket: server.socketPath, stdin: "{\"cookie\": \"s1\"}\n")
    #expect(twice.status == 64 && twice.stderr.contains("\"-\" (standard input) may be given once"), "\(twice.stderr)")
    #expect(missingJSON["error"]?["code"] == .string("INVALID_ARGUMENT"), "\(missing.stdout)")
    let directory = server.directory + "/d.jsonl"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let dir = try CLI.run(["ingest", good, directory], socket: server.socketPath)
    #expect(dir.status == 66)
    #expect(dir.stderr.contains("is a directory"), "\(dir.stderr)")
    let unknown = server.directory + "/people.txt"
    try "cookie\nu1\n".write(toFile: unknown, atomically: true, encoding: .utf8)
    let format = try CLI.run(["ingest", good, unknown], socket: server.socketPath)
    #expect(format.status == 64 && format.stderr.contains("give --format"), "\(format.stderr)")
    #expect(try CLI.json(try CLI.run(["health", "--json"], socket: server.socketPath))["records"] == .int(0))

    let noCookie = server.directory + "/nocookie.csv", brokenHeader = server.directory + "/broken.csv"
    let crOnly = server.directory + "/cr.csv"
    try "email,age\na@x.com,3\n".write(toFile: noCookie, atomically: true, encoding: .utf8)
    try "cookie,\"email\"x\nhh1,hh1@x.com\n".write(toFile: brokenHeader, atomically: true, encoding: .utf8)
    try "cookie,email\rcr1,a@y.com\rcr2,b@y.com\r".write(toFile: crOnly, atomically: true, encoding: .utf8)
    let run = try CLI.run(["ingest", good, noCookie, brokenHeader, crOnly, later, "--json"], socket: server.socketPath)
    #expect(run.status == 1, "\(run.stderr)")
    let summary = try CLI.json(run)
    #expect(summary["accepted"] == .int(2_501))
    #expect(summary["rejected"] == .int(0))
    #expect(summary["failed_files"] == .int(3))
    let errors = Self.errors(summary)
    // In the order the files were given.
    #expect(errors.map { $0["file"] } == [.string(noCookie), .string(brokenHeader), .string(crOnly)])
    #expect(errors.map { $0["line"] } == [.int(1), .int(1), .int(1)])
    let messages = "\(errors)"
    for expected in ["header: text after the closing quote", "carriage return alone", "no cookie column"] {
      #expect(messages.contains(expected), "\(messages)")
    }
    #expect(try CLI.json(try CLI.run(["health", "--json"], socket: server.socketPath))["records"] == .int(2_501))
    #expect(await server.stop() == 0)
  }

  /// --max-errors stops after the batch holding a record the server rejects (an age out of
  /// range): nothing after that batch is sent. It used to go on while 32 batches were in flight.
  /// Past 1,000 errors the list keeps the first by line: the server's rejection of line 2 comes
  /// after the CLI has refused the next thousand lines itself, and it was the one dropped.
  @Test func theErrorsListedAreTheFirstByLine() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let path = server.directory + "/many.csv"
    try Self.write(Array(("cookie,age\nea0,200\n" + (1...1_000).map { "ea\($0),x\n" }.joined()).utf8), path)
    let run = try CLI.run(["ingest", path, "--json"], socket: server.socketPath)
    let summary = try CLI.json(run)
    let lines = Self.errors(summary).map { $0["line"] }
    #expect(lines.count == 1_000)
    #expect(lines.first == .int(2), "\(lines.prefix(3))")
    #expect(lines.last == .int(1_001))
    #expect(summary["errors_not_shown"] == .int(1))
  }

  /// JSON lines ended by CR alone are the file's error, as in CSV (they were one line of the
  /// whole file: "longer than any record can be", or "unexpected text after the value"); a
  /// header whose quote is never closed says the file is not read (it said the lines after it
  /// are read as rows, and none was).
  @Test func loneCarriageReturnsAndABrokenHeaderAreTheFilesError() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let cr = server.directory + "/cr.jsonl", header = server.directory + "/h.csv"
    try Self.write(Array(#"{"data":{"cookie":"r1"}}\#r{"data":{"cookie":"r2"}}\#r"#.utf8), cr)
    try Self.write(Array("cookie,\"city\nug1,A\n".utf8), header)
    let run = try CLI.run(["ingest", cr, header, "--json"], socket: server.socketPath)
    let summary = try CLI.json(run)
    #expect(summary["failed_files"] == .int(2), "\(run.stdout)")
    let messages = Self.errors(summary).compactMap { e -> String? in if case .string(let m)? = e["message"] { m } else { nil } }
    #expect(messages.contains("the lines end with a carriage return alone (CR); end them with LF or CRLF"), "\(messages)")
    #expect(messages.contains { $0.hasPrefix("header: ") && $0.hasSuffix("; the file is not read") && !$0.contains("read as rows") }, "\(messages)")
    // A CR as JSON's whitespace on the first line is no CR-ended file (the whole file was refused).
    let white = server.directory + "/white.jsonl"
    try Self.write(Array("{\"cookie\":\"w1\",\r\"email\":\"w1@x.com\"}\n{\"cookie\":\"w2\"}\n".utf8), white)
    let both = try CLI.json(try CLI.run(["ingest", white, "--json"], socket: server.socketPath))
    #expect(both["accepted"] == .int(2), "\(both)")
    // CSV lines ended by CR CR LF (Python's csv module on Windows) are lines, not CR-ended ones.
    let crcrlf = server.directory + "/crcrlf.csv"
    try Self.write(Array("cookie,city\r\r\nk1,Oslo\r\r\nk2,\r\r\n".utf8), crcrlf)
    let windows = try CLI.json(try CLI.run(["ingest", crcrlf, "--json"], socket: server.socketPath))
    #expect(windows["accepted"] == .int(2) && windows["rejected"] == .int(0), "\(windows)")
    // An empty CSV file, or one of a byte order mark and blank lines, has no header: it was
    // taken for a file of no records, exit 0.
    let empty = server.directory + "/empty.csv", bom = server.directory + "/bom.csv"
    try Self.write([], empty)
    try Self.write([0xEF, 0xBB, 0xBF, 0x0D, 0x0A, 0x0A], bom)
    let none = try CLI.run(["ingest", empty, bom, "--json"], socket: server.socketPath)
    #expect(none.status == 1, "\(none.stderr)")
    let noHeader = try CLI.json(none)
    #expect(noHeader["failed_files"] == .int(2), "\(none.stdout)")
    #expect("\(Self.errors(noHeader))".contains("no header row: the file is empty (blank lines or a byte order mark alone)"), "\(none.stdout)")
  }

  /// What only the server's settings refuse (a blocked cookie) is known when its batch is
  /// answered: the rest of that batch is kept, and no other batch is sent.
  @Test func maxErrorsStopsAfterTheBatchHoldingARejectionOnlyTheServerMakes() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let path = server.directory + "/ages.csv"
    let rows = (1...5_000).map { $0 == 1_601 ? "null,30" : "a\($0),30" }
    try ("cookie,age\n" + rows.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    let run = try CLI.run(["ingest", path, "--max-errors", "1", "--batch-size", "500", "--json"], socket: server.socketPath)
    #expect(run.status == 1, "\(run.stderr)")
    let summary = try CLI.json(run)
    #expect(summary["rejected"] == .int(1))
    #expect(summary["accepted"] == .int(1_999))
    #expect(Self.errors(summary).map { $0["line"] } == [.int(1_602)])
    #expect(try CLI.json(try CLI.run(["health", "--json"], socket: server.socketPath))["records"] == .int(1_999))
    #expect(await server.stop() == 0)
  }

  /// `health` gives up on a server that accepts but never answers (stopped): exit 4 after its
  /// timeout, as for a server that is down (it waited for ever, and scripts with it).
  @Test func healthGivesUpOnAServerThatDoesNotAnswer() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let pid = try #require(server.process?.processIdentifier)
    kill(pid, SIGSTOP)
    let run = try CLI.run(["health", "--timeout", "1"], socket: server.socketPath)
    kill(pid, SIGCONT)
    #expect(run.status == 4)
    #expect(run.stderr.contains("no answer from the server within 1.0 s"), "\(run.stderr)")
    #expect(try CLI.run(["health"], socket: server.socketPath).status == 0)
    #expect(await server.stop() == 0)
  }

  /// A socket path that cannot be listened on is a usage error found before the store is opened
  /// (it was found only after a load that takes seconds at a million records).
  @Test func aSocketPathThatCannotBeUsedIsRefusedBeforeTheStoreOpens() throws {
    let base = NSTemporaryDirectory() + "/aud-socket-\(getpid())"
    defer { try? FileManager.default.removeItem(atPath: base) }
    for (socket, expected) in [
      ("/nonexistent-\(getpid())/s.sock", "its directory /nonexistent-\(getpid()): No such file or directory"),
      ("/tmp/" + String(repeating: "x", count: 120) + ".sock", "a Unix socket path holds at most 107"),
    ] {
      let p = Process()
      p.executableURL = URL(fileURLWithPath: ServerProcess.binDirectory + "/audienced")
      p.arguments = ["--socket", socket, "--data-dir", base + "/data"]
      let err = Pipe()
      p.standardError = err
      p.standardOutput = FileHandle.nullDevice
      try p.run()
      p.waitUntilExit()
      let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
      #expect(p.terminationStatus == 64)
      #expect(stderr.contains(expected), "\(stderr)")
      #expect(!FileManager.default.fileExists(atPath: base + "/data"))
    }
  }

  /// `gen` reports a write that fails (a full disk), instead of exiting 0 with nothing written.
  @Test func genReportsAFailedWrite() throws {
    let run = try CLI.run(["gen", "--count", "5", "--output", "/dev/full"], socket: "/nonexistent.sock")
    #expect(run.status == 1)
    #expect(run.stderr.contains("cannot write /dev/full: No space left on device"), "\(run.stderr)")
  }
}
