import AudienceCore
import AudienceWire
import NIOCore

/// How a connection's reads count against the server's ingest budget (`IngestBudget`): a frame
/// of 64 KiB or more as its bytes arrive, room for protobuf-c to unpack one of 4 KiB or more, an ingest's bytes
/// until the store answers it (docs/PROTOCOL.md).
extension Connection {
  /// Frames at least this long count against the server's ingest budget as they are read.
  static let largeFrameBytes = 64 << 10
  /// The most one read takes of a large frame (room taken from the budget before it).
  static let largeFrameRead = 256 << 10
  /// The most one read takes otherwise.
  static let plainRead = 64 << 10

  /// The bytes still to come of a frame of `largeFrameBytes` or more whose header was read.
  var largeFrameRemaining: Int? {
    guard let length = inbound.getInteger(at: inbound.readerIndex, endianness: .big, as: UInt32.self).map(Int.init),
      length <= server.configuration.maxFrameBytes, 4 + length >= Self.largeFrameBytes, 4 + length > inbound.readableBytes
    else { return nil }
    return 4 + length - inbound.readableBytes
  }

  enum Chunk { case taken(Int), nothingArrived, gone }

  /// Waits (a second at most) for more of the large frame being read, then takes room for the
  /// next read of it from the server's ingest budget, waiting (unread) while there is none: a
  /// thousand connections each reading a 4 MiB frame held 4 GiB, whatever the budget. Room is
  /// asked for once bytes have arrived, and what the read does not use is given back, so only
  /// bytes received are held: a peer that sends a header and stops holds nothing (room taken
  /// for the whole frame from its header let a few 4-byte headers stop every ingest).
  func takeChunk(of remaining: Int) -> Chunk {
    if largeFrame == nil { largeFrame = (server.ingestBudget.beginFrame(), 0) }
    guard UnixSocket.waitReadable(socket.fd, milliseconds: 1_000) else { return .nothingArrived }
    // What the read that brought its header brought of it is counted with its first room (the
    // buffer holds this frame alone: the frames before it were handled).
    let first = inbound.readableBytes - largeFrame!.taken
    let bytes = min(remaining, Self.largeFrameRead)
    let started = ContinuousClock.now
    flush()
    guard server.ingestBudget.takeForFrame(largeFrame!.place, first + bytes, unless: peerGone) else { return .gone }
    largeFrame!.taken += first
    // A wait for room is the server's, not the peer's.
    pauseFrameClock(started)
    return .taken(bytes)
  }

  /// The frame's clock (`--frame-timeout`) does not count the time since `since`: the server
  /// held the reader (it closed a connection whose peer sent promptly but waited for room).
  func pauseFrameClock(_ since: ContinuousClock.Instant) {
    // Only the clock moves: a check may follow at once (setting the last check's time here
    // kept a peer trickling a large frame from ever being checked).
    if let started = partialSince { partialSince = started + (ContinuousClock.now - since) }
  }

  /// How many times its size a frame may take while protobuf-c unpacks it (20-37 measured for
  /// millions of tiny fields: unknown ones, empty interests; 22 for compact records).
  static let unpackFactor = 40
  /// Frames at least this long are unpacked only with room for them (`roomToUnpack`). Below it,
  /// all connections unpacking at once take at most `--max-connections` x 4 KiB x 37 (155 MB at
  /// 1,024; 2.4 GB when this was 64 KiB); a query's frame is seldom this long.
  static let unpackCountsFrom = 4 << 10

  /// Unpacks a frame of `unpackCountsFrom` or more only with room in the server's budget for
  /// what protobuf-c may take doing it (`unpackFactor` times its size; alone, when that is more
  /// than the budget), given back once unpacked: 8 connections each sending a 4 MiB request of
  /// tiny unknown fields took over 1 GB at once. The frame's own bytes go back first (an ingest
  /// takes them again when it is dispatched). Smaller frames unpack without it.
  func roomToUnpack(_ bytes: Int, _ unpack: () throws -> WireRequest) throws -> WireRequest {
    guard bytes >= Self.unpackCountsFrom else { return try unpack() }
    if frameTaken > 0 {
      server.ingestBudget.give(frameTaken)
      frameTaken = 0
    }
    let room = bytes * Self.unpackFactor
    guard takeBudget(room) else { throw WireStatus(.unavailable, "the connection closed while its request waited for room") }
    defer { server.ingestBudget.give(room) }
    return try unpack()
  }

  /// Takes an ingest request's bytes from the server's budget, waiting while they do not fit
  /// (this connection reads nothing meanwhile; the answers gathered so far are written first);
  /// false when the connection closed first, or its peer did (the request is then not run).
  func takeBudget(_ bytes: Int) -> Bool {
    if frameTaken > 0 {
      // Taken while the frame was read.
      assert(frameTaken == bytes, "the frame's bytes taken are its own")
      frameTaken = 0
      return true
    }
    flush()
    return server.ingestBudget.take(bytes, unless: peerGone)
  }

  /// Whether the connection closed, or its peer did: a wait for room ends then.
  private var peerGone: () -> Bool {
    let socket = self.socket
    return { socket.isShut || UnixSocket.peerClosed(socket.fd) }
  }
}
