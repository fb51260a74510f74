import AudienceClient
import AudienceCore
import AudienceWire
import Foundation
import Testing

/// Idle and slow clients cannot hold connections; many of them do not stop a good client.
@Suite("Connection timeouts", .serialized)
struct TimeoutTests {
  @Test func idleAndTricklingConnectionsAreClosedWithAStatus() async throws {
    let server = ServerProcess(arguments: ["--idle-timeout", "2", "--frame-timeout", "2"])
    try await server.start()
    defer { server.removeFiles() }

    let idle = try RawSocket(path: server.socketPath)
    try idle.hello()
    let trickle = try RawSocket(path: server.socketPath)
    try trickle.hello()
    trickle.send([0x00, 0x00, 0x00, 0x20, 0x08])  // a 32-byte frame, one byte of it
    let sleeper = try await server.client()

    // A client that keeps working stays connected past the idle limit.
    let busy = try await server.client()
    for _ in 0..<8 {
      _ = try await busy.health()
      try await Task.sleep(for: .milliseconds(500))
    }
    let closedIdle = try idle.readResponse()
    #expect(closedIdle?.status.code == .unavailable)
    #expect(closedIdle?.status.message.contains("idle") == true, "\(String(describing: closedIdle))")
    #expect(idle.isClosedByPeer())
    let closedTrickle = try trickle.readResponse()
    #expect(closedTrickle?.status.code == .deadlineExceeded, "\(String(describing: closedTrickle))")
    #expect(trickle.isClosedByPeer())
    _ = try await busy.health()
    // The client library's idle connection was closed too: a call on it fails at once, not hangs.
    await #expect {
      _ = try await sleeper.health()
    } throws: { error in
      (error as? WireStatus)?.code == .unavailable
    }

    // An open watch is not idleness.
    let watcher = try await server.client()
    var events = watcher.watch(nil).events.makeAsyncIterator()
    #expect(try await events.next() == .started(total: 0))
    try await Task.sleep(for: .seconds(4))
    let writer = try await server.client()
    _ = try await writer.ingest([RawRecord(cookie: "late")])
    await writer.close()
    guard case .enter? = try await events.next() else { Issue.record("the watch was closed"); return }
    await watcher.close()
    await busy.close()
    #expect(await server.stop() == 0)
  }

  @Test func twoHundredIdleConnectionsAndGarbageDoNotStopAGoodClient() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    var idle: [RawSocket] = []
    for _ in 0..<200 { idle.append(try RawSocket(path: server.socketPath)) }
    for _ in 0..<20 {
      let garbage = try RawSocket(path: server.socketPath)
      garbage.send(Array(repeating: 0xFF, count: 64))
    }
    let client = try await server.client()
    _ = try await client.ingest([RawRecord(cookie: "good", email: "g@x.com")])
    #expect(try await client.user(cookie: "good").data.email == "g@x.com")
    #expect(try await client.health().connections >= 201)
    await client.close()
    idle.removeAll()
    #expect(await server.stop() == 0)
  }
}
