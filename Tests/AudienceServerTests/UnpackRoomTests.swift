import AudienceClient
import AudienceCore
import AudienceWire
import NIOCore
import Testing

@testable import AudienceServer

/// Room in the ingest budget for protobuf-c to unpack a request (`Connection.roomToUnpack`).
@Suite("Ingest budget: room to unpack")
struct UnpackRoomTests {
  /// A Health request frame followed by `count` unknown fields (field 100, varint 0: 3 bytes each).
  static func health(unknownFields count: Int, id: UInt64 = 5) -> [UInt8] {
    var health = ByteBuffer()
    WireCodec.encode(WireRequest(id: id, body: .health), into: &health)
    var payload = Array(health.readableBytesView.dropFirst(4))
    for _ in 0..<count { payload += [0xA0, 0x06, 0x00] }
    let n = payload.count
    return [UInt8(n >> 24), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] + payload
  }

  /// Runs `body` once an ingest of about `ingestBytes` holds room the store has not given back
  /// (`gate` closed, a budget of 1 MiB) and a Health frame sent on `b` waits for room to unpack.
  static func withHealthWaitingBehindAnIngest(
    ingestBytes: Int, held: Int, health: [UInt8],
    _ body: (_ server: AudienceServer, _ path: String, _ b: RawSocket, _ gate: SlowStore.Gate, _ ingest: Task<IngestSummary, any Error>) async throws -> Void
  ) async throws {
    let gate = SlowStore.Gate()
    try await withInProcessServer(SlowStore(delay: .zero, gate: gate), configure: { $0.maxIngestBytes = 1 << 20 }) { server, path, _ in
      let budget = server.ingestBudget
      let client = try await AudienceClient.connect(socketPath: path)
      let ingest = Task { try await client.ingest(IngestBudgetTests.batch(1, bytes: ingestBytes)) }
      try await IngestBudgetTests.until(budget, "the ingest's bytes held") { budget.held > held }
      let b = try RawSocket(path: path)
      try b.hello()
      b.send(health)
      try await IngestBudgetTests.until(budget, "the Health frame waits for room to unpack") { budget.waiting == 1 }
      try await body(server, path, b, gate, ingest)
      await client.close()
    }
  }

  /// protobuf-c may take 20-37 times a frame while unpacking it (millions of tiny unknown
  /// fields): a large frame it unpacks waits for room for that, alone when it is more than the
  /// budget (8 connections each sending a 4 MiB request of tiny fields took over 1 GB at once);
  /// but not for frames being read, which a peer that stops part way holds until
  /// `--frame-timeout` (it waited that long, and every ingest behind it).
  @Test func aLargeFrameForProtobufCWaitsForRoomToUnpack() async throws {
    // A Health request with 99 KB of unknown fields: 40 times that, 4 MB, is more than the budget.
    let healthFrame = Self.health(unknownFields: 33_000)
    // An ingest the store has not answered holds room: the Health frame waits for it.
    try await Self.withHealthWaitingBehindAnIngest(ingestBytes: 150_000, held: 100_000, health: healthFrame) { server, path, b, gate, first in
      let budget = server.ingestBudget
      gate.open()
      #expect(try await first.value.accepted == 600)
      #expect((await IngestBudgetTests.response(b))?.status.code == .ok)
      try await IngestBudgetTests.until(budget, "all given back") { budget.held == 0 }
      // A frame being read that its peer stopped sending does not hold it back.
      let frame = IngestBudgetTests.largeFrame(8)
      let a = try RawSocket(path: path)
      try a.hello()
      a.send(Array(frame[..<150_000]))
      try await IngestBudgetTests.until(budget, "a's bytes taken") { budget.held == 150_000 }
      let started = ContinuousClock.now
      b.send(healthFrame)
      #expect((await IngestBudgetTests.response(b))?.status.code == .ok)
      #expect(ContinuousClock.now - started < .seconds(5), "the Health frame waited for a stalled frame")
      a.send(Array(frame[150_000...]))
      #expect((await IngestBudgetTests.response(a))?.status.code == .ok)
      try await IngestBudgetTests.until(budget, "all given back") { budget.held == 0 }
    }
  }

  /// Frames under 64 KiB unpacked without room: 1,024 connections each unpacking a 64 KiB frame
  /// of tiny fields could take 2.4 GB at once. From 4 KiB a frame waits for room too.
  @Test func aSmallFrameForProtobufCWaitsForRoomToUnpackToo() async throws {
    // 12 KB of unknown fields: room for 40 times that, 480 KB, does not fit beside the 787 KB
    // ingest frame in a budget of 1 MiB.
    try await Self.withHealthWaitingBehindAnIngest(
      ingestBytes: 900_000, held: 700_000, health: Self.health(unknownFields: 4_000)
    ) { server, path, b, gate, first in
      let budget = server.ingestBudget
      // A Health frame under 4 KiB goes ahead.
      let c = try RawSocket(path: path)
      try c.hello()
      c.send(Self.health(unknownFields: 1_000, id: 6))
      #expect((await IngestBudgetTests.response(c))?.status.code == .ok)
      gate.open()
      #expect(try await first.value.accepted == 3_600)
      #expect((await IngestBudgetTests.response(b))?.status.code == .ok)
      try await IngestBudgetTests.until(budget, "all given back") { budget.held == 0 }
    }
  }
}
