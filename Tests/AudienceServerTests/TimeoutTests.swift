import AudienceClient
import AudienceCore
import AudienceWire
import Foundation
import NIOCore
import Testing

/// Idle and slow clients cannot hold connections; many of them do not stop a good client.
@Suite("Connection timeouts", .serialized)
struct TimeoutTests {
  @Test func idleAndTricklingConnectionsAreClosedWithAStatus() async throws {
    // Generous against a loaded CI machine: the busy client pings ten times per idle period.
    let server = ServerProcess(arguments: ["--idle-timeout", "3", "--frame-timeout", "2"])
    try await server.start()
    defer { server.removeFiles() }

    let idle = try RawSocket(path: server.socketPath)
    try idle.hello()
    let trickle = try RawSocket(path: server.socketPath)
    try trickle.hello()
    trickle.send([0x00, 0x00, 0x00, 0x20, 0x08])  // a 32-byte frame, one byte of it
    let sleeper = try await server.client()

    // A client that keeps working stays connected past the idle limit. It works from a thread
    // of its own: on a loaded machine this process's tasks can wait seconds for a turn, and a
    // client that pauses that long is idle.
    let busy = try RawSocket(path: server.socketPath)
    try busy.hello()
    let answered = await onThread {
      var ok = 0
      for i in 0..<16 {
        busy.send(WireRequest(id: UInt64(100 + i), body: .health))
        if (try? busy.readResponse())??.status.code == .ok { ok += 1 }
        usleep(300_000)
      }
      return ok
    }
    #expect(answered == 16, "the busy client was cut off")
    let closedIdle = try idle.readResponse()
    #expect(closedIdle?.status.code == .unavailable)
    #expect(closedIdle?.status.message.contains("idle") == true, "\(String(describing: closedIdle))")
    #expect(idle.isClosedByPeer())
    let closedTrickle = try trickle.readResponse()
    #expect(closedTrickle?.status.code == .deadlineExceeded, "\(String(describing: closedTrickle))")
    #expect(trickle.isClosedByPeer())
    busy.send(WireRequest(id: 200, body: .health))
    #expect(try busy.readResponse()?.status.code == .ok)
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
    try await Task.sleep(for: .seconds(5))
    let writer = try await server.client()
    _ = try await writer.ingest([RawRecord(cookie: "late")])
    await writer.close()
    guard case .enter? = try await events.next() else { Issue.record("the watch was closed"); return }
    await watcher.close()
    #expect(await server.stop() == 0)
  }

  @Test func aFrameTrickledFasterThanOnceASecondIsStillCutOff() async throws {
    // Bytes keep arriving, so the connection's read never times out: the frame's clock must
    // still run out.
    let server = ServerProcess(arguments: ["--frame-timeout", "2"])
    try await server.start()
    defer { server.removeFiles() }
    let trickle = try RawSocket(path: server.socketPath)
    try trickle.hello()
    trickle.send([0x00, 0x00, 0x00, 0x40])  // a 64-byte frame, then a byte of it every 0.3 s
    var closed = false
    for _ in 0..<40 {
      try await Task.sleep(for: .milliseconds(300))
      var probe = pollfd(fd: trickle.fd, events: Int16(POLLIN), revents: 0)
      if poll(&probe, 1, 0) > 0 {
        closed = true
        break
      }
      trickle.send([0x08])
    }
    #expect(closed, "the server waited 12 s for a frame trickled a byte at a time")
    let response = try trickle.readResponse()
    #expect(response?.status.code == .deadlineExceeded, "\(String(describing: response))")
    #expect(await server.stop() == 0)
  }

  /// Frames back to back, each partial when the server looks (a loader sending large batches
  /// steadily) are each within --frame-timeout: the clock is each frame's. It was kept from the
  /// first partial frame seen, so the connection was cut off after --frame-timeout in all.
  @Test func framesBackToBackEachWithinTheLimitAreNotCutOff() async throws {
    let server = ServerProcess(arguments: ["--frame-timeout", "2"])
    try await server.start()
    defer { server.removeFiles() }
    let peer = try RawSocket(path: server.socketPath)
    try peer.hello()
    var frames: [[UInt8]] = []
    for i in 0..<5 {
      var b = ByteBuffer()
      WireCodec.encode(WireRequest(id: UInt64(10 + i), body: .health), into: &b)
      frames.append(Array(b.readableBytesView))
    }
    // Each frame's first byte goes with the rest of the one before, then a pause of 1.2 s: every
    // frame is partial for 1.2 s (under the limit), for 6 s in all (three times it).
    peer.send([frames[0][0]])
    for i in 0..<5 {
      try await Task.sleep(for: .milliseconds(1_200))
      peer.send(Array(frames[i].dropFirst()) + (i + 1 < frames.count ? [frames[i + 1][0]] : []))
      let response = try peer.readResponse()
      #expect(response?.status.code == .ok, "frame \(i): \(String(describing: response))")
      if response?.status.code != .ok { break }
    }
    #expect(await server.stop() == 0)
  }

  @Test func connectionsThatComeAndGoLeaveNoThreadOrDescriptor() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let pid = server.process!.processIdentifier
    func count(_ dir: String) -> Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/\(dir)").count) ?? -1 }
    // Warm up what a first request starts (task threads, the store's).
    let first = try await server.client()
    _ = try await first.ingest([RawRecord(cookie: "c", email: "c@x.com")])
    await first.close()
    try await Task.sleep(for: .milliseconds(300))
    let (threads, descriptors) = (count("task"), count("fd"))
    for round in 0..<3 {
      var open: [RawSocket] = []
      for i in 0..<100 {
        let s = try RawSocket(path: server.socketPath)
        try s.hello()
        // Every other one also gets an answer written by a task (its writer thread starts).
        if i % 2 == 0 {
          s.send(WireRequest(id: 2, body: .ingest([RawRecord(cookie: "r\(round)-\(i)")])))
          #expect(try s.readResponse()?.status.code == .ok)
        }
        open.append(s)
      }
      #expect(count("task") >= threads + 100, "a thread per connection")
      open.removeAll()
    }
    var settled = false
    for _ in 0..<50 where !settled {
      try await Task.sleep(for: .milliseconds(100))
      settled = count("task") <= threads && count("fd") <= descriptors
    }
    #expect(settled, "threads \(count("task")) (were \(threads)), descriptors \(count("fd")) (were \(descriptors))")
    let client = try await server.client()
    #expect(try await client.health().connections == 1)
    await client.close()
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

/// A peer that sends requests and never reads the responses is throttled: the server stops
/// reading it while its responses cannot be written (the handler holds reads while the channel
/// is not writable, past --max-buffered-bytes; NIO's socket channel was also seen to stop reading
/// under write backpressure on its own), so the peer's sends block and the server's memory stays
/// bounded. The test checks that property, whichever mechanism holds.
@Suite("Slow readers")
struct SlowReaderTests {
  /// A client with a profile stored (its view about 1 KB), and a non-blocking raw socket with a
  /// burst of a thousand GetUser requests of that profile to send without reading.
  static func greedyPeer(_ server: ServerProcess) async throws -> (AudienceClient, RawSocket, [UInt8]) {
    let client = try await server.client()
    _ = try await client.ingest([RawRecord(cookie: "c", email: "c@x.com", city: String(repeating: "x", count: 900))])
    let greedy = try RawSocket(path: server.socketPath)
    try greedy.hello()
    var one = ByteBuffer()
    WireCodec.encode(WireRequest(id: 9, body: .getUser(cookie: "c")), into: &one)
    _ = fcntl(greedy.fd, F_SETFL, fcntl(greedy.fd, F_GETFL) | O_NONBLOCK)
    return (client, greedy, Array(repeating: Array(one.readableBytesView), count: 1000).flatMap { $0 })
  }

  @Test func aClientThatNeverReadsIsStoppedNotBuffered() async throws {
    let server = ServerProcess(arguments: ["--max-buffered-bytes", "65536", "--drain-timeout", "2"])
    try await server.start()
    defer { server.removeFiles() }
    let (client, greedy, burst) = try await Self.greedyPeer(server)
    var sent = 0
    var blocked = false
    let deadline = ContinuousClock.now + .seconds(20)
    while ContinuousClock.now < deadline, sent < 200_000_000 {
      let n = burst.withUnsafeBytes { Foundation.send(greedy.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
      if n < 0 {
        if errno == EAGAIN {
          // Full: give the server a moment, and see whether it is still blocked.
          try await Task.sleep(for: .milliseconds(300))
          let again = burst.withUnsafeBytes { Foundation.send(greedy.fd, $0.baseAddress, 1, Int32(MSG_NOSIGNAL)) }
          if again < 0 && errno == EAGAIN { blocked = true; break }
          continue
        }
        break
      }
      sent += n
    }
    #expect(blocked, "the server kept reading \(sent) bytes from a peer that never reads")
    // Others are served meanwhile, and the server's memory is bounded.
    #expect(try await client.user(cookie: "c").data.email == "c@x.com")
    let status = try String(contentsOfFile: "/proc/\(server.process!.processIdentifier)/status", encoding: .utf8)
    let rss = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }.flatMap { Int($0.split(separator: " ")[1]) } ?? 0
    #expect(rss < 300_000, "server RSS \(rss) KiB")
    await client.close()
    #expect(await server.stop() == 0)
  }
}

extension SlowReaderTests {
  @Test func aPeerThatTakesNoResponseIsClosedAndLoggedAtTheIdleTimeout() async throws {
    // 4 s: the client of `greedyPeer` is idle between its greeting and its ingest, which took
    // more than 2 s once in a full parallel run on two cores.
    let server = ServerProcess(arguments: ["--idle-timeout", "4"])
    try await server.start()
    defer { server.removeFiles() }
    let (client, greedy, burst) = try await Self.greedyPeer(server)
    // Send until the server stops taking requests (its responses fill both buffers), then
    // neither send nor read: the server's write makes no progress.
    var closedByServer = false
    let deadline = ContinuousClock.now + .seconds(30)
    while ContinuousClock.now < deadline {
      let n = burst.withUnsafeBytes { Foundation.send(greedy.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
      if n < 0 && errno == EAGAIN { try await Task.sleep(for: .milliseconds(200)) }
      if n < 0 && errno != EAGAIN { closedByServer = true; break }
      if server.log_.contains("took none of its responses") { break }
    }
    var logged = false
    for _ in 0..<100 where !logged {
      logged = server.log_.contains("closing the connection: the peer took none of its responses for 4.0 seconds")
      if !logged { try await Task.sleep(for: .milliseconds(100)) }
    }
    #expect(logged, "closedByServer \(closedByServer); log:\n\(server.log_.suffix(2000))")
    // Others are still served (the first client was idle meanwhile, and closed).
    let other = try await server.client()
    #expect(try await other.user(cookie: "c").data.email == "c@x.com")
    await other.close()
    await client.close()
    #expect(await server.stop() == 0)
  }
}

/// Runs `body` on a thread of its own (not the test process's task pool) and returns its result.
func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
  await withCheckedContinuation { continuation in
    let thread = Thread { continuation.resume(returning: body()) }
    thread.start()
  }
}
