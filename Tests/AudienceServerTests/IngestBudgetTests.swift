import AudienceClient
import AudienceCore
import AudienceWire
import Foundation
import NIOCore
import Synchronization
import Testing

@testable import AudienceServer

/// The server-wide budget of ingest bytes: many connections pipelining Ingest requests grew the
/// server's memory with each (64 requests of up to 4 MiB per connection, 1,024 connections: a
/// local client took 3.7 GB with six). Past the budget a connection waits, unread.
@Suite("Ingest budget")
struct IngestBudgetTests {
  /// Records whose Ingest frame is about `bytes` long.
  static func batch(_ tag: Int, bytes: Int) -> [RawRecord] {
    (0..<(bytes / 250)).map { RawRecord(cookie: "b\(tag)-\($0)", phoneNumber: String(repeating: "7", count: 200)) }
  }

  /// The most the server held at once while 4 connections each sent 8 Ingest requests
  /// pipelined to a store that takes 100 ms an ingest.
  static func peakHeld(limit: Int) async throws -> (peak: Int, frame: Int) {
    let peak = Peak()
    try await withInProcessServer(SlowStore(delay: .milliseconds(100)), configure: { $0.maxIngestBytes = limit }) { server, path, _ in
      let watching = peak.watch(server.ingestBudget)
      try await withThrowingTaskGroup(of: Void.self) { group in
        for c in 0..<4 {
          group.addTask {
            let client = try await AudienceClient.connect(socketPath: path)
            try await withThrowingTaskGroup(of: Void.self) { calls in
              for i in 0..<8 {
                calls.addTask {
                  let summary = try await client.ingest(Self.batch(c * 100 + i, bytes: 100_000))
                  #expect(summary.accepted == 400)
                }
              }
              try await calls.waitForAll()
            }
            await client.close()
          }
        }
        try await group.waitForAll()
      }
      watching.cancel()
      #expect(server.ingestBudget.held == 0, "every request's bytes were given back")
    }
    return (peak.value.load(ordering: .relaxed), frameBytes)
  }

  @Test func manyConnectionsPipeliningIngestsStayWithinTheBudget() async throws {
    // Two frames' worth: at most two requests held at once, whichever connections send them.
    let (peak, frame) = try await Self.peakHeld(limit: 2 * Self.frameBytes + 100)
    #expect(frame > 50_000, "\(frame)")
    #expect(peak > 0 && peak <= 2 * frame + 100, "peak \(peak), frame \(frame)")
    // The same load without a budget to speak of holds many more at once (the test can tell).
    let (open, _) = try await Self.peakHeld(limit: 1 << 30)
    #expect(open >= 6 * frame, "peak without a budget \(open)")
  }

  @Test func aRequestLargerThanTheBudgetGoesThroughAlone() async throws {
    try await withInProcessServer(SlowStore(delay: .milliseconds(10)), configure: { $0.maxIngestBytes = 1_000 }) { server, path, _ in
      let client = try await AudienceClient.connect(socketPath: path)
      async let a = client.ingest(Self.batch(1, bytes: 50_000))
      async let b = client.ingest(Self.batch(2, bytes: 50_000))
      let (x, y) = try await (a, b)
      #expect(x.accepted == 200 && y.accepted == 200)
      #expect(server.ingestBudget.held == 0)
      await client.close()
    }
  }

  /// The most a budget held, sampled every 2 ms while `watch`'s task runs.
  final class Peak: Sendable {
    let value = Atomic<Int>(0)

    func watch(_ budget: IngestBudget) -> Task<Void, Never> {
      Task {
        while !Task.isCancelled {
          let held = budget.held
          if held > value.load(ordering: .relaxed) { value.store(held, ordering: .relaxed) }
          try? await Task.sleep(for: .milliseconds(2))
        }
      }
    }
  }

  /// The frame size of an Ingest of `batch(0, bytes: 100_000)`.
  static var frameBytes: Int {
    var buffer = ByteBuffer()
    WireCodec.encode(WireRequest(id: 1, body: .ingest(batch(0, bytes: 100_000))), into: &buffer)
    return buffer.readableBytes
  }

  /// Ingest streams count too: three connections, each a stream of 8 batches with a window of 8,
  /// hold at most the budget; every batch is acknowledged and its bytes given back.
  @Test func ingestStreamsStayWithinTheBudget() async throws {
    let limit = 2 * Self.frameBytes + 200
    let peak = Peak()
    try await withInProcessServer(SlowStore(delay: .milliseconds(50)), configure: { $0.maxIngestBytes = limit }) { server, path, _ in
      let watching = peak.watch(server.ingestBudget)
      try await withThrowingTaskGroup(of: Int.self) { group in
        for c in 0..<3 {
          group.addTask {
            let client = try await AudienceClient.connect(socketPath: path)
            let stream = try await client.ingestStream(window: 8)
            var acks: [IngestAck] = []
            for i in 0..<8 { acks += try await stream.send(Self.batch(c * 100 + i, bytes: 100_000)) }
            acks += try await stream.finish()
            await client.close()
            return acks.count
          }
        }
        for try await count in group { #expect(count == 8) }
      }
      watching.cancel()
      #expect(server.ingestBudget.held == 0)
    }
    let seen = peak.value.load(ordering: .relaxed)
    #expect(seen > 0 && seen <= limit, "peak \(seen), limit \(limit)")
  }

  /// The frame of an Ingest of `batch(tag, bytes: 250_000)` (about 218 KB).
  static func largeFrame(_ tag: Int, id: UInt64 = 2) -> [UInt8] {
    var buffer = ByteBuffer()
    WireCodec.encode(WireRequest(id: id, body: .ingest(batch(tag, bytes: 250_000))), into: &buffer)
    return Array(buffer.readableBytesView)
  }

  /// The next response on `socket`, read on a thread of its own: blocked in a test's task for
  /// seconds, the read starved the other tests' tasks (idle clients were closed).
  static func response(_ socket: RawSocket) async -> WireResponse? {
    await onThread { (try? socket.readResponse()) ?? nil }
  }

  /// Polls `done` for up to 10 s; records a failure naming `what` if it never held.
  static func until(_ budget: IngestBudget, _ what: String, _ done: () -> Bool) async throws {
    for _ in 0..<1_000 where !done() { try await Task.sleep(for: .milliseconds(10)) }
    #expect(done(), "\(what): held \(budget.held), waiting \(budget.waiting)")
  }

  /// A frame of 64 KiB or more counts as its bytes arrive: every connection may be reading a
  /// frame of up to `--max-frame-bytes`, and 100 connections each sending all but the last byte
  /// of a 4 MiB frame held 435 MiB, whatever the budget. A frame that is not an ingest gives its
  /// bytes back once handled.
  @Test func aLargeFrameCountsAgainstTheBudgetAsItArrives() async throws {
    let frame = Self.largeFrame(7)
    try await withInProcessServer(SlowStore(delay: .zero), configure: { $0.maxIngestBytes = 1 << 20 }) { server, path, _ in
      let budget = server.ingestBudget
      let a = try RawSocket(path: path)
      try a.hello()
      a.send(Array(frame[..<150_000]))
      try await Self.until(budget, "the frame's bytes received") { budget.held == 150_000 }
      a.send(Array(frame[150_000...]))
      #expect((await Self.response(a))?.status.code == .ok)
      try await Self.until(budget, "all given back") { budget.held == 0 }
      // One that does not decode gives its bytes back.
      var junk: [UInt8] = [0, 1, 0, 0]  // 65,536 bytes follow
      junk += [UInt8](repeating: 0xFF, count: 65_536)
      a.send(Array(junk[..<1_000]))
      try await Task.sleep(for: .milliseconds(50))
      a.send(Array(junk[1_000...]))
      #expect((await Self.response(a))?.status.code == .invalidArgument)
      try await Self.until(budget, "the junk frame given back") { budget.held == 0 }
    }
  }

  /// Headers alone hold nothing: room was once taken for a whole frame from its header, and a
  /// few 4-byte headers of 4 MiB frames stopped every ingest until `--frame-timeout`.
  @Test func headersAloneHoldNoRoom() async throws {
    try await withInProcessServer(SlowStore(delay: .zero), configure: { $0.maxIngestBytes = 1 << 20 }) { server, path, _ in
      var idle: [RawSocket] = []
      for _ in 0..<8 {
        let r = try RawSocket(path: path)
        try r.hello()
        r.send([0, 0x40, 0, 0])  // a 4 MiB frame, and nothing of it
        idle.append(r)
      }
      try await Task.sleep(for: .milliseconds(200))
      #expect(server.ingestBudget.held == 0)
      let client = try await AudienceClient.connect(socketPath: path)
      let started = ContinuousClock.now
      #expect(try await client.ingest(Self.batch(1, bytes: 150_000)).accepted == 600)
      #expect(ContinuousClock.now - started < .seconds(5), "the ingest waited behind headers")
      await client.close()
      _ = idle
    }
    // Nor is a frame larger than the budget, which goes through alone, held back by one (it
    // waited for the header's --frame-timeout: only a frame holding bytes may pass the limit).
    try await withInProcessServer(SlowStore(delay: .zero), configure: { $0.maxIngestBytes = 100_000 }) { server, path, _ in
      let stalled = try RawSocket(path: path)
      try stalled.hello()
      stalled.send([0, 0x0F, 0x42, 0x40, 0x0A])  // a 1,000,000-byte frame, one byte of it
      try await Task.sleep(for: .milliseconds(200))
      let client = try await AudienceClient.connect(socketPath: path)
      let started = ContinuousClock.now
      #expect(try await client.ingest(Self.batch(2, bytes: 1_000_000)).accepted == 4000)
      #expect(ContinuousClock.now - started < .seconds(5), "the large ingest waited behind a stalled header")
      #expect(server.ingestBudget.held == 0)
      await client.close()
      _ = stalled
    }
  }

  /// Partly read frames that fill the budget do not stall one another: the frame begun first
  /// reads on past the limit, the others wait; and a wait for room does not count against the
  /// waiting frame's `--frame-timeout` (it closed a connection whose peer sent promptly). Here
  /// the first frame's peer stops: once its frame times out, the second reads on and is answered.
  @Test func partlyReadFramesThatFillTheBudgetDoNotStall() async throws {
    let config: (inout ServerConfiguration) -> Void = {
      $0.maxIngestBytes = 100_000
      $0.frameTimeout = .seconds(3)
    }
    try await withInProcessServer(SlowStore(delay: .zero), configure: config) { server, path, _ in
      let budget = server.ingestBudget
      let (fa, fb) = (Self.largeFrame(1), Self.largeFrame(2))
      let a = try RawSocket(path: path), b = try RawSocket(path: path)
      try a.hello()
      try b.hello()
      // Both past the budget: a (begun first) takes all it sent, b waits.
      a.send(Array(fa[..<200_000]))
      try await Self.until(budget, "a's bytes taken") { budget.held == 200_000 }
      b.send(Array(fb[..<200_000]))
      try await Self.until(budget, "b waits") { budget.waiting == 1 }
      // a's peer stops: its frame times out, and b reads on.
      #expect((await Self.response(a))?.status.code == .deadlineExceeded)
      try await Self.until(budget, "b reads on") { budget.waiting == 0 }
      // b's frame began more than --frame-timeout ago, most of it spent waiting for room.
      try await Task.sleep(for: .milliseconds(500))
      b.send(Array(fb[200_000...]))
      #expect((await Self.response(b))?.status.code == .ok)
      try await Self.until(budget, "all given back") { budget.held == 0 }
      // And when both peers send on, both are answered (the first past the limit, alone).
      let c = try RawSocket(path: path), d = try RawSocket(path: path)
      try c.hello()
      try d.hello()
      let (fc, fd) = (Self.largeFrame(3), Self.largeFrame(4))
      c.send(Array(fc[..<200_000]))
      try await Self.until(budget, "c's bytes taken") { budget.held == 200_000 }
      d.send(Array(fd[..<200_000]))
      try await Self.until(budget, "d waits") { budget.waiting == 1 }
      d.send(Array(fd[200_000...]))
      c.send(Array(fc[200_000...]))
      #expect((await Self.response(c))?.status.code == .ok)
      #expect((await Self.response(d))?.status.code == .ok)
      try await Self.until(budget, "all given back") { budget.held == 0 }
    }
  }

  /// A peer part way through a large frame that does not take its responses (its reader stopped
  /// with them queued) is closed at `--frame-timeout`: the bytes it sent hold budget, and it held
  /// them, and every other ingest waiting for room, until `--idle-timeout`.
  @Test func aPartFrameWhosePeerTakesNoResponsesTimesOut() async throws {
    let config: (inout ServerConfiguration) -> Void = {
      $0.maxIngestBytes = 200_000
      $0.frameTimeout = .seconds(2)
      $0.idleTimeout = .seconds(60)
      $0.maxBufferedBytes = 65_536
      $0.maxRecordsPerBatch = 100_000
    }
    try await withInProcessServer(SlowStore(delay: .zero), configure: config) { server, path, _ in
      // Ingests whose records are all refused: answers of about 800 KB each, never read.
      let refused = (0..<10_000).map { _ in RawRecord(cookie: "", phoneNumber: String(repeating: "x", count: 30)) }
      var bytes: [UInt8] = []
      for i in 0..<10 {
        var b = ByteBuffer()
        WireCodec.encode(WireRequest(id: UInt64(20 + i), body: .ingest(refused)), into: &b)
        bytes += b.readableBytesView
      }
      var large = ByteBuffer()
      WireCodec.encode(WireRequest(id: 9, body: .ingest(Self.batch(9, bytes: 1_000_000))), into: &large)
      bytes += Array(large.readableBytesView)[..<250_000]
      let x = try RawSocket(path: path)
      try x.hello()
      let all = bytes
      let sending = Task.detached { await onThread { x.send(all) } }
      try await Task.sleep(for: .milliseconds(1_500))
      let client = try await AudienceClient.connect(socketPath: path)
      let started = ContinuousClock.now
      #expect(try await client.ingest([RawRecord(cookie: "small")]).accepted == 1)
      #expect(ContinuousClock.now - started < .seconds(15), "waited \(ContinuousClock.now - started)")
      await client.close()
      shutdown(x.fd, Int32(SHUT_RDWR))
      await sending.value
      try await Self.until(server.ingestBudget, "all given back") { server.ingestBudget.held == 0 }
    }
  }

  /// A large frame trickled faster than once a second is still cut off at `--frame-timeout`
  /// (each piece took room and paused the frame's clock, and marked the connection checked, so
  /// it never was: the connection stayed open for good).
  @Test func aLargeFrameTrickledIsStillCutOff() async throws {
    try await withInProcessServer(SlowStore(delay: .zero), configure: { $0.frameTimeout = .seconds(2) }) { server, path, _ in
      let frame = Self.largeFrame(5)
      let x = try RawSocket(path: path)
      try x.hello()
      x.send(Array(frame[..<100_000]))
      let started = ContinuousClock.now
      var at = 100_000
      while ContinuousClock.now - started < .seconds(8), !x.serverSentOrClosed() {
        x.send([frame[at]])
        at += 1
        try await Task.sleep(for: .milliseconds(300))
      }
      #expect(ContinuousClock.now - started < .seconds(8), "the trickling connection stayed open")
      #expect((await Self.response(x))?.status.code == .deadlineExceeded)
      try await Self.until(server.ingestBudget, "its bytes given back") { server.ingestBudget.held == 0 }
    }
  }

  /// First come, first served: a request waiting for room is not passed by later ones that
  /// would fit (a large frame starved while small ones kept filling the room as it freed).
  @Test func aLargeRequestIsNotStarvedBySmallOnes() {
    let budget = IngestBudget(limit: 100)
    #expect(budget.take(60) { false })
    let order = Mutex<[String]>([])
    let large = Thread {
      _ = budget.take(90) { false }  // waits: 60 + 90 > 100
      order.withLock { $0.append("large") }
      budget.give(90)
    }
    large.start()
    while budget.waiting < 1 { Thread.sleep(forTimeInterval: 0.005) }
    let small = Thread {
      _ = budget.take(30) { false }  // would fit now (60 + 30), but the large one came first
      order.withLock { $0.append("small") }
      budget.give(30)
    }
    small.start()
    while budget.waiting < 2 { Thread.sleep(forTimeInterval: 0.005) }
    Thread.sleep(forTimeInterval: 0.1)
    #expect(order.withLock { $0 }.isEmpty)
    budget.give(60)
    for _ in 0..<100 where order.withLock({ $0.count }) < 2 { Thread.sleep(forTimeInterval: 0.02) }
    #expect(order.withLock { $0 } == ["large", "small"])
    #expect(budget.held == 0)
  }

  /// A peer that sent an Ingest and hung up while it waited for room: the request is not run
  /// (it was, once room came, and its reader thread was held until then).
  @Test func anIngestWhosePeerHungUpWhileWaitingIsNotRun() async throws {
    // The first ingest holds the budget until the gate opens, which is once the hung-up peer's
    // connection is gone (with a fixed delay, a loaded machine let it finish first, and the
    // second ingest then ran with the room free).
    let gate = SlowStore.Gate()
    let store = SlowStore(delay: .zero, gate: gate)
    try await withInProcessServer(store, configure: { $0.maxIngestBytes = 1 }) { server, path, _ in
      let client = try await AudienceClient.connect(socketPath: path)
      let first = Task { try await client.ingest([RawRecord(cookie: "a")]) }
      while store.ingests.count == 0 { try await Task.sleep(for: .milliseconds(5)) }
      let raw = try RawSocket(path: path)
      try raw.hello()
      raw.send(WireRequest(id: 2, body: .ingest([RawRecord(cookie: "gone")])))
      try await Task.sleep(for: .milliseconds(100))
      shutdown(raw.fd, Int32(SHUT_RDWR))
      for _ in 0..<1_000 where server.connections.count > 1 { try await Task.sleep(for: .milliseconds(10)) }
      #expect(server.connections.count == 1, "the hung-up peer's connection is still open")
      gate.open()
      #expect(try await first.value.accepted == 1)
      try await Task.sleep(for: .milliseconds(300))
      #expect(store.ingests.count == 1, "the hung-up peer's ingest ran")
      #expect(server.ingestBudget.held == 0)
      await client.close()
    }
  }

  @Test func aWaitingTakeEndsWhenItsConnectionIsGone() {
    let budget = IngestBudget(limit: 10)
    #expect(budget.take(8) { false })
    let started = ContinuousClock.now
    #expect(!budget.take(5) { ContinuousClock.now - started > .milliseconds(100) })
    budget.give(8)
    #expect(budget.take(5) { false } && budget.held == 5)
  }
}
