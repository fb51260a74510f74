public import AudienceCore
public import AudienceWire
import NIOCore

/// A batch of an ingest stream, acknowledged: it is durable.
public struct IngestAck: Hashable, Sendable {
  /// The batch's position in the stream (0, 1, 2, ...).
  public var sequence: UInt64
  /// One outcome per record of the batch.
  public var summary: IngestSummary
}

/// An open ingest stream (`AudienceClient.ingestStream`): batches go out in order, at most
/// `window` of them unacknowledged; `send` waits for the oldest acknowledgement when the window
/// is full, so a fast producer is held back instead of filling the server's memory. The server
/// commits the batches that are waiting together. Use it from one task.
public final class IngestStream {
  /// Batches that may be unacknowledged at once (granted by the server).
  public let window: Int
  let client: AudienceClient
  /// The id of the request that opened the stream.
  public let streamID: UInt64
  private var nextSequence: UInt64 = 0
  private var inFlight: [(sequence: UInt64, response: EventLoopFuture<WireResponse>)] = []
  private var head = 0
  private var ended = false

  init(client: AudienceClient, streamID: UInt64, window: Int) {
    self.client = client
    self.streamID = streamID
    self.window = max(1, window)
  }

  /// Batches sent and not yet acknowledged.
  public var unacknowledged: Int { inFlight.count - head }

  /// Sends one batch, first waiting for acknowledgements while the window is full.
  /// - Parameters:
  ///   - records: at most the server's batch limit.
  /// - Returns: the acknowledgements received since the last call, oldest first. If this throws,
  ///   those received before the failure are still available from `takeAcknowledged()`.
  ///
  /// The records are checked and encoded here, on the caller's task, each moved out of the array
  /// in turn: read in place, every record was copied (a retain and a release of each of its
  /// strings) by the check for NUL bytes and again by each of the encoder's two passes. An array
  /// the caller keeps is copied once instead.
  public func send(_ records: consuming [RawRecord]) async throws -> [IngestAck] {
    var records = records
    // The stream's builder, moved to a local (a class property's accesses are checked each time):
    // it keeps the room the last batch took.
    var encoded = EncodedRecords.Builder()
    swap(&encoded, &builder)
    defer { swap(&encoded, &builder) }
    var refused: WireStatus?
    records.forEachMovedOut { i, r in
      guard refused == nil else { return }
      if let field = r.fieldWithNUL {
        refused = AudienceClient.nulRefusal(record: i, field: field)
        return
      }
      encoded.append(r)
    }
    if let refused {
      _ = encoded.take()  // nothing of a refused batch is sent, or left for the next
      throw refused
    }
    return try await send(encoded: encoded.take())
  }

  /// `send(_:)` for records encoded as they were read (`EncodedRecords.Builder`, the CLI's
  /// CSV rows), checked for NUL bytes then.
  package func send(encoded records: EncodedRecords) async throws -> [IngestAck] {
    // Refused here rather than by the server, which closes the connection on a frame past its limit.
    let limit = client.server.maxFrameBytes - Self.requestBytes
    if records.batchBytes > limit {
      throw WireStatus(
        .invalidArgument,
        "the batch takes \(records.batchBytes) bytes encoded, more than the \(limit) the server's frame limit leaves for records: send fewer records per batch")
    }
    try await send(.encoded(records), last: false)
    return takeAcknowledged()
  }

  /// Room a request takes beside its records (frame length, id, timeout, stream, sequence, last).
  package static let requestBytes = 64

  /// Ends the stream and waits for every acknowledgement.
  /// - Returns: the acknowledgements not returned yet, oldest first (after a failure, see
  ///   `takeAcknowledged()`).
  public func finish() async throws -> [IngestAck] {
    let closing = nextSequence
    try await send([], last: true)
    while unacknowledged > 0 { try await receive() }
    // The closing batch holds no records: its acknowledgement only ends the stream.
    return takeAcknowledged().filter { $0.sequence != closing }
  }

  /// Waits for the oldest unacknowledged batch.
  public func next() async throws -> IngestAck {
    try await receive()
    return received.removeLast()
  }

  /// The acknowledgements received and not returned yet, oldest first; after `send` or `finish`
  /// threw, the ones that arrived before the failure (they are durable).
  public func takeAcknowledged() -> [IngestAck] {
    defer { received = [] }
    return received
  }

  private var received: [IngestAck] = []
  /// Encodes `send(_:)`'s records (emptied by each batch's `take()`, keeping its room).
  private var builder = EncodedRecords.Builder()

  private func receive() async throws {
    precondition(unacknowledged > 0, "no batch is waiting for an acknowledgement")
    let (sequence, future) = inFlight[head]
    head += 1
    if head > 64 && head * 2 > inFlight.count {
      inFlight.removeFirst(head)
      head = 0
    }
    let response = try await future.get()
    guard response.status.code == .ok else { throw response.status }
    guard case .ingest(let summary)? = response.body else {
      throw WireStatus(.internal, "server answered an ingest batch with a different method's response")
    }
    received.append(IngestAck(sequence: sequence, summary: summary))
  }

  private func send(_ records: [RawRecord], last: Bool) async throws {
    try await send(.decoded(records), last: last)
  }

  private func send(_ records: IngestRecords, last: Bool) async throws {
    guard !ended else { throw WireStatus(.failedPrecondition, "the ingest stream was finished") }
    while unacknowledged >= window { try await receive() }
    let batch = IngestBatch(stream: streamID, sequence: nextSequence, records: records, last: last)
    nextSequence += 1
    if last { ended = true }
    inFlight.append((batch.sequence, client.start(.ingestBatch(batch)).response))
  }
}

extension AudienceClient {
  /// Opens an ingest stream.
  /// - Parameters:
  ///   - window: batches to keep in flight; 0 takes the server's default (the server may grant fewer).
  public func ingestStream(window: Int = 0) async throws -> IngestStream {
    let (id, future) = start(.ingestStream(window: UInt32(clamping: window)))
    let response = try await future.get()
    guard response.status.code == .ok else { throw response.status }
    guard case .ingestStream(let granted)? = response.body else {
      throw WireStatus(.internal, "server answered IngestStream with a different method's response")
    }
    return IngestStream(client: self, streamID: id, window: granted)
  }
}
