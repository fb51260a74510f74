import Foundation
import Testing

/// How audienced behaves towards its operator: flags, signals, descriptors, its socket file.
@Suite("Operations")
struct OperationsTests {
  /// A frame limit of 2^32 - 1 (a length's "no limit") let one peer's header crash the server;
  /// one below a Hello refused every client. Both are usage errors now.
  @Test(arguments: ["4294967295", "1", "4095", "1073741825"])
  func aFrameLimitOutOfRangeIsRefused(_ value: String) throws {
    let (status, errors) = try HelpTextTests.refusal("audienced", ["--max-frame-bytes", value])
    #expect(status == 64, "\(value): \(errors)")
    #expect(errors.contains("--max-frame-bytes: \(value) is not within 4096 to 1073741824"), "\(errors)")
  }

  /// Starts audienced with `stderr`, waits for its socket; nil when it did not start.
  static func start(_ dir: String, stderr: Any, prefix: [String] = []) throws -> Process? {
    let p = Process()
    let audienced = ServerProcess.binDirectory + "/audienced"
    p.executableURL = URL(fileURLWithPath: prefix.first ?? audienced)
    p.arguments = Array(prefix.dropFirst()) + (prefix.isEmpty ? [] : [audienced])
      + ["--socket", dir + "/s.sock", "--data-dir", dir + "/data", "--exit-with-parent"]
    p.standardOutput = FileHandle.nullDevice
    p.standardError = stderr
    try p.run()
    for _ in 0..<300 where !FileManager.default.fileExists(atPath: dir + "/s.sock") && p.isRunning { usleep(20_000) }
    return FileManager.default.fileExists(atPath: dir + "/s.sock") ? p : nil
  }

  static func stop(_ p: Process) -> Int32 {
    kill(p.processIdentifier, SIGTERM)
    p.waitUntilExit()
    return p.terminationStatus
  }

  /// `audienced 2>&1 | head -2`: once the reader of its log went, the next line's SIGPIPE ended
  /// the server at once (exit by signal, socket file left, no snapshot).
  @Test func aLogReaderThatGoesDoesNotEndTheServer() throws {
    let dir = TemporaryDirectories.make()
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let pipe = Pipe()
    let p = try #require(try Self.start(dir, stderr: pipe))
    try pipe.fileHandleForReading.close()
    #expect(Self.stop(p) == 0)
    #expect(p.terminationReason == .exit)
    #expect(!FileManager.default.fileExists(atPath: dir + "/s.sock"))
  }

  /// Another server may put its socket where this one's was while this one drains (it sees no
  /// server listening): the shutdown removed it, leaving that server unreachable.
  @Test func theSocketFileIsRemovedOnlyIfItIsStillTheServers() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    try FileManager.default.removeItem(atPath: server.socketPath)
    #expect(FileManager.default.createFile(atPath: server.socketPath, contents: Data("another's".utf8)))
    #expect(await server.stop() == 0)
    #expect(FileManager.default.fileExists(atPath: server.socketPath))
  }

  /// systemd gives services a soft limit of 1,024 open files, the default --max-connections:
  /// past it, clients waited unanswered and nothing was said. The soft limit is raised.
  @Test func theOpenFilesLimitIsRaisedForTheConnections() throws {
    let dir = TemporaryDirectories.make()
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let p = try #require(try Self.start(dir, stderr: FileHandle.nullDevice, prefix: ["/usr/bin/prlimit", "--nofile=256:4096"]))
    let limits = try String(contentsOfFile: "/proc/\(p.processIdentifier)/limits", encoding: .utf8)
    let line = limits.split(separator: "\n").first { $0.hasPrefix("Max open files") }.map(String.init) ?? ""
    let soft = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst(3).first.flatMap { Int($0) }
    #expect(soft == 1_024 + 64, "\(line)")
    #expect(Self.stop(p) == 0)
  }

  /// The data directory removed while the server ran: ingests were acknowledged into a database
  /// file no one could open again, and the next start had none of them. They are refused now,
  /// and Health says why.
  @Test func aDatabaseFileRemovedWhileRunningRefusesWrites() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    #expect(try CLI.run(["ingest", "--record", #"{"cookie":"before"}"#], socket: server.socketPath).status == 0)
    try FileManager.default.removeItem(atPath: server.dataDirectory)
    let after = try CLI.run(["ingest", "--record", #"{"cookie":"after"}"#, "--json"], socket: server.socketPath)
    #expect(after.status != 0, "\(after)")
    #expect(after.stdout.contains("was removed or replaced while audienced ran"), "\(after)")
    let health = try CLI.run(["health"], socket: server.socketPath)
    #expect(health.status == 1 && health.stdout.contains("degraded: writes are failing"), "\(health)")
    // Erasures and splits too: they succeeded, and cleared Health.
    let forget = try CLI.run(["forget", "--cookie", "before"], socket: server.socketPath)
    #expect(forget.status != 0 && forget.stderr.contains("was removed or replaced"), "\(forget)")
    #expect(try CLI.run(["split", "before"], socket: server.socketPath).status != 0)
    #expect(try CLI.run(["health"], socket: server.socketPath).status == 1)
    // Reads go on.
    #expect(try CLI.run(["user", "before"], socket: server.socketPath).status == 0)
    await server.stop()
  }

  /// A data directory this user cannot write: SQLite said only "unable to open database file".
  @Test(.enabled(if: getuid() == 0, "setpriv needs root (CI runs as root)"))
  func aDataDirectoryThatCannotBeWrittenSaysPermissionDenied() throws {
    let dir = TemporaryDirectories.make()
    try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
    _ = chmod(dir, 0o777)
    let (status, message) = try Self.audiencedAsNobody(["--socket", dir + "/s.sock", "--data-dir", dir + "/data"])
    #expect(status != 0)
    #expect(message.contains("\(dir)/data: Permission denied for this user"), "\(message)")
  }

  /// Runs audienced as the user nobody (setpriv: needs root) until it exits; its status and stderr.
  static func audiencedAsNobody(_ arguments: [String]) throws -> (status: Int32, stderr: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
    p.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", ServerProcess.binDirectory + "/audienced"] + arguments
    let err = Pipe()
    p.standardOutput = FileHandle.nullDevice
    p.standardError = err
    try p.run()
    let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    return (p.terminationStatus, message)
  }
}
