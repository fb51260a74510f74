import AudienceClient
import AudienceCore
import AudienceWire
import Foundation
import Testing

/// The CLI as a script uses it: pipes that close, full disks, the environment, exit codes.
@Suite("Scripting the CLI", .serialized)
struct ScriptingTests {
  /// Runs the CLI with its standard output given (a pipe whose reader is gone, /dev/full).
  static func run(_ arguments: [String], socket: String, stdout: FileHandle, environment: [String: String]? = nil) throws -> Process {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: ServerProcess.binDirectory + "/audience")
    p.arguments = ["--socket", socket] + arguments
    if let environment { p.environment = environment }
    p.standardOutput = stdout
    p.standardError = FileHandle.nullDevice
    try p.run()
    return p
  }

  /// Runs `audience ingest` reading the standard input the test writes to, its output to a pipe.
  static func ingestFromPipe(_ arguments: [String], socket: String) throws -> (process: Process, input: Pipe, out: Pipe) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: ServerProcess.binDirectory + "/audience")
    p.arguments = ["--socket", socket, "ingest", "-"] + arguments
    let input = Pipe(), out = Pipe()
    p.standardInput = input
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    try p.run()
    return (p, input, out)
  }

  /// What a process run with `run` wrote to `out` once it exited, given `seconds` before it is
  /// killed (the test's copy of the pipe's writing end is closed here).
  static func outputOnceExited(_ p: Process, _ out: Pipe, killedAfter seconds: Int) async throws -> String {
    for _ in 0..<(seconds * 20) where p.isRunning { try await Task.sleep(for: .milliseconds(50)) }
    if p.isRunning { kill(p.processIdentifier, SIGKILL) }
    while p.isRunning { try await Task.sleep(for: .milliseconds(20)) }
    try out.fileHandleForWriting.close()
    return String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
  }

  @Test func aReaderThatGoesAwayOrAFullDiskEndsTheCommand() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let client = try await server.client()
    _ = try await client.ingest((0..<3_000).map { RawRecord(cookie: "c\($0)", country: "USA") })
    // `cohort --all --json | head -1`: every page was fetched for nobody, exit 0. Now the first
    // write after the reader left ends the process by SIGPIPE, as `seq 1 1000000 | head -1`.
    let pipe = Pipe()
    try pipe.fileHandleForReading.close()
    let paging = try Self.run(["cohort", "--all", "--json", "--limit", "100"], socket: server.socketPath, stdout: pipe.fileHandleForWriting)
    paging.waitUntilExit()
    #expect(paging.terminationReason == .uncaughtSignal && paging.terminationStatus == SIGPIPE)
    // A full disk: exit 1, not 0 with the output lost.
    let full = try FileHandle(forWritingTo: URL(fileURLWithPath: "/dev/full"))
    for arguments in [["analyze", "--json"], ["user", "c1", "--json"], ["cohort", "--count"]] {
      let p = try Self.run(arguments, socket: server.socketPath, stdout: full)
      p.waitUntilExit()
      #expect(p.terminationReason == .exit && p.terminationStatus == 1, "\(arguments)")
    }
    // `watch --json | head -n 2`: it kept running after head left.
    let watchPipe = Pipe()
    let watch = try Self.run(["watch", "--json", "--where", "country:testland"], socket: server.socketPath, stdout: watchPipe.fileHandleForWriting)
    try watchPipe.fileHandleForWriting.close()
    var lines = 0
    var bytes = Data()
    while lines < 2 {
      let chunk = watchPipe.fileHandleForReading.availableData
      if chunk.isEmpty { break }
      bytes += chunk
      lines = bytes.filter { $0 == 0x0A }.count
      if lines < 2 { _ = try await client.ingest([RawRecord(cookie: "t\(bytes.count)", country: "Testland")]) }
    }
    try watchPipe.fileHandleForReading.close()
    for i in 0..<50 where watch.isRunning {
      _ = try await client.ingest([RawRecord(cookie: "late\(i)", country: "Testland")])
      try await Task.sleep(for: .milliseconds(100))
    }
    #expect(!watch.isRunning, "watch went on writing for nobody")
    if watch.isRunning { watch.terminate() }
    watch.waitUntilExit()
    #expect(watch.terminationReason == .uncaughtSignal && watch.terminationStatus == SIGPIPE)
    await client.close()
    #expect(await server.stop() == 0)
  }

  /// A watch the server ends (it shut down) exits 4, not 0 as after --max-events.
  @Test func aWatchTheServerEndsExitsUnavailable() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let out = Pipe()
    let watch = try Self.run(["watch", "--json"], socket: server.socketPath, stdout: out.fileHandleForWriting)
    try out.fileHandleForWriting.close()
    // Once it has started (its first line), stop the server.
    _ = out.fileHandleForReading.availableData
    #expect(await server.stop() == 0)
    let rest = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    watch.waitUntilExit()
    #expect(watch.terminationStatus == 4, "\(rest)")
    #expect(rest.contains(#"{"event":"ended"}"#) && rest.contains("UNAVAILABLE"), "\(rest)")
  }

  /// A failed `analyze --html` (no server) leaves the report it would have replaced whole; it
  /// emptied it. An empty AUDIENCE_SOCKET means the default socket, not the path "".
  @Test func aFailedReportKeepsTheOldOneAndAnEmptySocketVariableIsUnset() throws {
    let dir = NSTemporaryDirectory() + "aud-script-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let report = dir + "/report.html"
    try "<html>the last report</html>".write(toFile: report, atomically: true, encoding: .utf8)
    let failed = try CLI.run(["analyze", "--html", report], socket: dir + "/none.sock")
    #expect(failed.status == 4)
    #expect(try String(contentsOfFile: report, encoding: .utf8) == "<html>the last report</html>")
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["report.html"])

    let p = Process()
    p.executableURL = URL(fileURLWithPath: ServerProcess.binDirectory + "/audience")
    p.arguments = ["health"]
    p.currentDirectoryURL = URL(fileURLWithPath: dir)
    p.environment = ["AUDIENCE_SOCKET": ""]
    let err = Pipe()
    p.standardError = err
    p.standardOutput = FileHandle.nullDevice
    try p.run()
    let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    #expect(p.terminationStatus == 4)
    #expect(message.contains("cannot connect to ./audience.sock: No such file or directory"), "\(message)")
  }

  /// Ctrl-C during an ingest: the records read are sent and waited for, and the summary of what
  /// the server acknowledged is printed, exit 130 (the process died without a word while the
  /// records it had sent were stored).
  @Test func anInterruptedIngestPrintsWhatWasAcknowledged() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let (p, input, out) = try Self.ingestFromPipe(["--json", "--batch-size", "100"], socket: server.socketPath)
    let lines = (0..<1_000).map { #"{"cookie": "i\#($0)"}"# }.joined(separator: "\n") + "\n"
    input.fileHandleForWriting.write(Data(lines.utf8))
    let client = try await server.client()
    for _ in 0..<200 {
      if try await client.health().stats.records >= 1_000 { break }
      try await Task.sleep(for: .milliseconds(50))
    }
    // Half a line written, then nothing: the reader waits on a quiet pipe (left open). The
    // interrupt wakes it (it waited for the next line before); the half line is not sent.
    input.fileHandleForWriting.write(Data(#"{"cookie": "hal"#.utf8))
    try await Task.sleep(for: .milliseconds(200))
    kill(p.processIdentifier, SIGINT)
    let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    #expect(p.terminationReason == .exit && p.terminationStatus == 130, "\(text)")
    let summary = try JSONValue(parsing: text.trimmingCharacters(in: .whitespacesAndNewlines))
    #expect(summary["accepted"] == .int(1_000) && summary["interrupted"] == .bool(true), "\(text)")
    #expect(try await client.health().stats.records == 1_000)
    await client.close()
    #expect(await server.stop() == 0)
  }

  /// An interrupt while the server does not answer (stopped with SIGSTOP): the acknowledgements
  /// are waited for 5 s, not for ever (`timeout 5 audience ingest` against a hung server never
  /// ended), then the summary is printed, exit 130.
  @Test func anInterruptedIngestDoesNotWaitForeverForAHungServer() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let pid = try #require(server.process?.processIdentifier)
    let (p, input, out) = try Self.ingestFromPipe(["--json", "--batch-size", "10", "--window", "2"], socket: server.socketPath)
    // Connected, Hello answered, the stream opened: the server counts the CLI's connection.
    let client = try await server.client()
    for _ in 0..<500 where try await client.health().connections < 2 { try await Task.sleep(for: .milliseconds(10)) }
    try await Task.sleep(for: .milliseconds(200))
    await client.close()
    kill(pid, SIGSTOP)
    defer { kill(pid, SIGCONT) }
    // More than the window: the reader waits for an acknowledgement that does not come.
    let lines = (0..<100).map { #"{"cookie": "h\#($0)"}"# }.joined(separator: "\n") + "\n"
    input.fileHandleForWriting.write(Data(lines.utf8))
    try await Task.sleep(for: .milliseconds(300))
    let start = ContinuousClock.now
    kill(p.processIdentifier, SIGTERM)
    let text = await Self.output(of: p, out)
    let took = ContinuousClock.now - start
    kill(pid, SIGCONT)
    #expect(p.terminationReason == .exit && p.terminationStatus == 130, "\(text)")
    #expect(took < .seconds(30), "\(took)")
    let summary = try JSONValue(parsing: text.trimmingCharacters(in: .whitespacesAndNewlines))
    #expect(summary["interrupted"] == .bool(true) && summary["accepted"] == .int(0), "\(text)")
    #expect(summary["error"]?["code"] == .string("DEADLINE_EXCEEDED"), "\(text)")
    #expect(await server.stop() == 0)
  }

  /// On a terminal, the progress line names the file being read when there are several, and its
  /// share is of all of them (it was each file's alone, with no name: "ETA 0s" with three files
  /// to go). Run under `script`, which gives the command a terminal.
  @Test func progressOnATerminalNamesTheFileAndCountsEveryFile() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    var paths: [String] = []
    for f in 0..<3 {
      let path = server.directory + "/part\(f).csv"
      try ("cookie,age\n" + (0..<2_000).map { "p\(f)-\($0),30" }.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
      paths.append(path)
    }
    let command = ([ServerProcess.binDirectory + "/audience", "--socket", server.socketPath, "ingest"] + paths).joined(separator: " ")
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/script")
    p.arguments = ["-q", "-e", "-c", command, "/dev/null"]
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    p.standardInput = FileHandle.nullDevice
    try p.run()
    let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    #expect(p.terminationStatus == 0, "\(text)")
    #expect(text.contains("file 1/3 \(paths[0]): 0 records"), "\(text)")
    #expect(text.contains("% read"), "\(text)")
    #expect(text.contains("accepted 6000 record(s)"), "\(text)")
    #expect(await server.stop() == 0)
  }

  /// Interrupted while still connecting to a server that accepts but does not answer (stopped):
  /// it ends 5 s after the signal, nothing sent, exit 130 (the wait for Hello had no end).
  @Test func anIngestInterruptedWhileConnectingToAHungServerEnds() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let pid = try #require(server.process?.processIdentifier)
    kill(pid, SIGSTOP)
    defer { kill(pid, SIGCONT) }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: ServerProcess.binDirectory + "/audience")
    p.arguments = ["--socket", server.socketPath, "ingest", "-", "--json"]
    let input = Pipe(), out = Pipe()
    p.standardInput = input
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    try p.run()
    try await Task.sleep(for: .milliseconds(500))
    kill(p.processIdentifier, SIGTERM)
    let text = await Self.output(of: p, out)
    kill(pid, SIGCONT)
    #expect(p.terminationReason == .exit && p.terminationStatus == 130, "\(text)")
    let summary = try JSONValue(parsing: text.trimmingCharacters(in: .whitespacesAndNewlines))
    #expect(summary["interrupted"] == .bool(true) && summary["accepted"] == .int(0), "\(text)")
    #expect(summary["error"]?["code"] == .string("DEADLINE_EXCEEDED"), "\(text)")
    #expect(await server.stop() == 0)
  }

  /// Waits (10 s at most) for the server to hold `count` records: the lines a paused producer
  /// wrote, sent while the input pauses.
  static func expectStored(_ count: Int, in server: ServerProcess) async throws {
    let client = try await server.client()
    var stored = 0
    for _ in 0..<200 where stored < count {
      try await Task.sleep(for: .milliseconds(50))
      stored = try await client.health().stats.records
    }
    #expect(stored == count, "the records read were not sent while the input paused")
    await client.close()
  }

  /// A producer that pauses: the records read are sent then, not when a batch fills, and the
  /// stream stays open past the server's idle timeout (the record read first was held in a
  /// partial batch, and the connection closed as idle after --idle-timeout: accepted 0, exit 4).
  @Test func aPipeThatPausesSendsWhatWasReadAndKeepsItsStream() async throws {
    let server = ServerProcess(arguments: ["--idle-timeout", "2"])
    try await server.start()
    defer { server.removeFiles() }
    let (p, input, out) = try Self.ingestFromPipe(["--json", "--format", "jsonl"], socket: server.socketPath)
    input.fileHandleForWriting.write(Data((0..<3).map { #"{"cookie": "p\#($0)"}"# + "\n" }.joined().utf8))
    try await Self.expectStored(3, in: server)
    try await Task.sleep(for: .seconds(3))  // past the idle timeout
    input.fileHandleForWriting.write(Data(#"{"cookie": "p3"}"#.utf8 + [0x0A]))
    try input.fileHandleForWriting.close()
    let text = await Self.output(of: p, out)
    #expect(p.terminationStatus == 0, "\(text)")
    let summary = try JSONValue(parsing: text.trimmingCharacters(in: .whitespacesAndNewlines))
    #expect(summary["accepted"] == .int(4), "\(text)")
    #expect(await server.stop() == 0)
  }

  /// A server that dies while the producer pauses: the CLI ends at once with the summary of what
  /// was acknowledged and exit 4, the input still open (it waited for the producer's next line
  /// or its end, for ever with one that stays open; found by the adversarial ingest helper).
  @Test func aServerThatDiesWhileThePipePausesEndsTheRunAtOnce() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let (p, input, out) = try Self.ingestFromPipe(["--json", "--format", "jsonl"], socket: server.socketPath)
    input.fileHandleForWriting.write(Data((0..<3).map { #"{"cookie": "d\#($0)"}"# + "\n" }.joined().utf8))
    try await Self.expectStored(3, in: server)
    #expect(await server.stop(signal: SIGKILL) == SIGKILL)
    // Within 5 s, the input still open.
    for _ in 0..<100 where p.isRunning { try await Task.sleep(for: .milliseconds(50)) }
    #expect(!p.isRunning, "the CLI waited for its input after the connection closed")
    try? input.fileHandleForWriting.close()
    let text = await Self.output(of: p, out)
    #expect(p.terminationStatus == 4, "\(text)")
    let summary = try JSONValue(parsing: text.trimmingCharacters(in: .whitespacesAndNewlines))
    #expect(summary["accepted"] == .int(3) && summary["interrupted"] == .bool(false), "\(text)")
    #expect(summary["error"]?["code"] == .string("UNAVAILABLE"), "\(text)")
  }

  /// A named pipe is read (the check before sending opened and closed it, its writer died of
  /// SIGPIPE, and the read's open waited for ever, deaf to SIGTERM); one with no writer yet is
  /// waited on, and an interrupt then ends the run with its summary, exit 130.
  @Test func aNamedPipeIsReadAndItsWaitCanBeInterrupted() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let fifo = server.dataDirectory + "/people.csv"
    #expect(mkfifo(fifo, 0o600) == 0)
    let out = Pipe()
    let p = try Self.run(["ingest", "--json", fifo], socket: server.socketPath, stdout: out.fileHandleForWriting)
    let wrote = await onThread { () -> Bool in
      signal(SIGPIPE, SIG_IGN)  // a reader that went away is EPIPE here, not the end of the tests
      let fd = open(fifo, O_WRONLY)  // waits for the CLI to open it to read
      guard fd >= 0 else { return false }
      let text = Array("cookie,age\nf1,30\nf2,31\n".utf8)
      defer { close(fd) }
      return text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == text.count
    }
    #expect(wrote)
    let text = try await Self.outputOnceExited(p, out, killedAfter: 20)
    #expect(p.terminationReason == .exit && p.terminationStatus == 0, "\(text)")
    #expect(try JSONValue(parsing: text.trimmingCharacters(in: .whitespacesAndNewlines))["accepted"] == .int(2), "\(text)")
    // No writer at all: waited on, and SIGTERM ends it.
    let out2 = Pipe()
    let q = try Self.run(["ingest", "--json", fifo], socket: server.socketPath, stdout: out2.fileHandleForWriting)
    try await Task.sleep(for: .milliseconds(500))
    kill(q.processIdentifier, SIGTERM)
    let text2 = try await Self.outputOnceExited(q, out2, killedAfter: 10)
    #expect(q.terminationReason == .exit && q.terminationStatus == 130, "\(text2)")
    #expect(await server.stop() == 0)
  }

  /// What a process wrote (a little: the pipe holds it) once it exited, waited for without
  /// blocking a thread of the task pool: these waits last seconds, and other suites' tasks
  /// (a timer among them) need the threads meanwhile.
  static func output(of p: Process, _ out: Pipe) async -> String {
    while p.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
    return String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
  }
}
