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
