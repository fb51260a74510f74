import AudienceClient
import AudienceWire
import Foundation
import Testing

@testable import AudienceServer

/// --allow-uid / --allow-gid, checked with SO_PEERCRED.
@Suite("Peer credentials", .serialized)
struct PeerCredentialTests {
  /// glibc's `struct ucred { pid_t pid; uid_t uid; gid_t gid; }` (needs _GNU_SOURCE, so Swift
  /// does not import it): 12 bytes, fields at 0, 4 and 8.
  @Test func theCredentialsStructHasUcredsLayout() {
    #expect(MemoryLayout<PeerCredentials>.size == 12)
    #expect(MemoryLayout<PeerCredentials>.offset(of: \PeerCredentials.pid) == 0)
    #expect(MemoryLayout<PeerCredentials>.offset(of: \PeerCredentials.uid) == 4)
    #expect(MemoryLayout<PeerCredentials>.offset(of: \PeerCredentials.gid) == 8)
  }

  @Test func aPeerNotAllowedIsRefusedWithPermissionDenied() async throws {
    let other = getuid() == 4242 ? "4243" : "4242"
    let server = ServerProcess(arguments: ["--allow-uid", other])
    try await server.start()
    defer { server.removeFiles() }
    await #expect {
      _ = try await AudienceClient.connect(socketPath: server.socketPath)
    } throws: { error in
      guard let status = error as? WireStatus else { return false }
      return status.code == .permissionDenied && status.message.contains("uid \(getuid())")
    }
    let cli = try CLI.run(["health"], socket: server.socketPath)
    #expect(cli.status != 0)
    #expect(cli.stderr.contains("PERMISSION_DENIED"), "\(cli.stderr)")
    #expect(await server.stop() == 0)
  }

  @Test func anAllowedUserOrGroupConnects() async throws {
    for flags in [["--allow-uid", "4242", "--allow-uid", "\(getuid())"], ["--allow-uid", "4242", "--allow-gid", "\(getgid())"]] {
      let server = ServerProcess(arguments: flags)
      try await server.start()
      defer { server.removeFiles() }
      let client = try await server.client()
      #expect(try await client.health().status == "serving")
      await client.close()
      #expect(await server.stop() == 0)
    }
  }

  /// Another user (nobody, through runuser) is refused: by the socket file's mode by default,
  /// and by SO_PEERCRED when the mode lets everyone reach the socket.
  @Test(.enabled(if: getuid() == 0, "runuser needs root (CI runs as root)"))
  func anotherUserIsRefused() async throws {
    let open = ServerProcess(arguments: ["--allow-uid", "\(getuid())", "--socket-mode", "666"])
    try await open.start()
    defer { open.removeFiles() }
    _ = chmod(open.directory, 0o755)
    let refused = try CLI.run(["health"], socket: open.socketPath, user: "nobody")
    #expect(refused.status != 0)
    #expect(refused.stderr.contains("PERMISSION_DENIED: uid 65534"), "\(refused.stderr)")
    #expect(try CLI.run(["health"], socket: open.socketPath).status == 0)
    #expect(await open.stop() == 0)
    #expect(try String(contentsOfFile: open.logPath, encoding: .utf8).contains("refused"))

    let closed = ServerProcess()
    try await closed.start()
    defer { closed.removeFiles() }
    _ = chmod(closed.directory, 0o755)
    let denied = try CLI.run(["health"], socket: closed.socketPath, user: "nobody")
    #expect(denied.status != 0)
    #expect(denied.stderr.lowercased().contains("permission denied"), "\(denied.stderr)")
    // The server is running: the hint is about the socket's mode, not "is audienced running?".
    #expect(denied.stderr.contains("does not let this user connect") && !denied.stderr.contains("is audienced running"), "\(denied.stderr)")
    #expect(await closed.stop() == 0)

    // --socket-group lets that group's members in (mode 660 still keeps everyone else out).
    let shared = ServerProcess(arguments: ["--socket-group", "nogroup"])
    try await shared.start()
    defer { shared.removeFiles() }
    _ = chmod(shared.directory, 0o755)
    var st = stat()
    #expect(stat(shared.socketPath, &st) == 0 && st.st_gid == 65534 && st.st_mode & 0o777 == 0o660)
    let member = try CLI.run(["health"], socket: shared.socketPath, user: "nobody")
    #expect(member.status == 0, "\(member.stderr)")
    #expect(await shared.stop() == 0)
  }

  /// --allow-gid admits a member through a supplementary group (how members usually belong), not
  /// only through the primary one SO_PEERCRED carries; others are still refused.
  @Test(.enabled(if: getuid() == 0, "setpriv needs root (CI runs as root)"))
  func aMemberThroughASupplementaryGroupConnects() async throws {
    let server = ServerProcess(arguments: ["--socket-mode", "666", "--allow-gid", "4343"])
    try await server.start()
    defer { server.removeFiles() }
    func health(groups: String) throws -> Int32 {
      let p = Process()
      p.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
      p.arguments = ["--reuid=65534", "--regid=65534", "--groups=\(groups)", ServerProcess.binDirectory + "/audience",
        "--socket", server.socketPath, "health"]
      p.standardOutput = FileHandle.nullDevice
      p.standardError = FileHandle.nullDevice
      try p.run()
      p.waitUntilExit()
      return p.terminationStatus
    }
    #expect(try health(groups: "4343") == 0)
    #expect(try health(groups: "4344") == 1)
    #expect(await server.stop() == 0)
  }

  /// A socket that cannot be given to --socket-owner is not left behind: nobody would accept on
  /// it, and clients connecting to a stale file get "connection refused" instead of "no server".
  @Test(.enabled(if: getuid() == 0, "setpriv needs root (CI runs as root)"))
  func aSocketThatCannotBeGivenAwayIsRemoved() throws {
    let dir = "/tmp/aud-own-" + String(UUID().uuidString.prefix(8))
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o777])
    defer { try? FileManager.default.removeItem(atPath: dir) }
    // As nobody, giving the socket to root fails (EPERM).
    let (status, message) = try OperationsTests.audiencedAsNobody(
      ["--socket", dir + "/s.sock", "--data-dir", dir + "/data", "--socket-owner", "0"])
    #expect(status != 0)
    #expect(message.contains("cannot give \(dir)/s.sock to uid 0"), "\(message)")
    #expect(!FileManager.default.fileExists(atPath: dir + "/s.sock"), "the socket file was left behind")
  }
}
