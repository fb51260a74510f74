import AudienceWire

/// The ingest streams of one connection: which are open, the batches waiting to be committed
/// (each with its `Prepared` work, started when it was accepted), and how many are
/// unacknowledged. Pure bookkeeping; the connection keeps it behind a lock (its thread and its
/// committers use it).
///
/// A stream's committer names it by id and generation: an id may be opened again once its
/// stream is gone, and the old committer must not take the new stream's batches.
struct IngestStreams<Prepared> {
  /// A batch taken and being validated. Its raw records are not kept: the validation task
  /// holds them only until it has normalized them, so a window of batches holds each record once.
  struct Waiting {
    let id: UInt64
    let prepared: Prepared
    /// The batch's frame size, held in the server's `IngestBudget` until it is answered.
    var bytes = 0
  }

  struct Stream {
    let window: Int
    let generation: UInt64
    var nextSequence: UInt64 = 0
    var unacknowledged = 0
    var waiting: [Waiting] = []
    var committing = false
    var ended = false
    /// Why later batches are refused (a batch came out of sequence), once it is closed.
    var closed: String?
    /// Nothing waits and nothing is unacknowledged: the stream can go.
    var done: Bool { (ended || closed != nil) && unacknowledged == 0 && waiting.isEmpty }
  }

  private(set) var streams: [UInt64: Stream] = [:]
  private var generations: UInt64 = 0

  enum Opened: Equatable {
    case opened(window: Int)
    case refused(WireStatus)
  }

  /// Opens a stream on request `id`.
  /// - Parameters:
  ///   - id: the opening request's id.
  ///   - requested: the window asked for (0: the default).
  ///   - configuration: the limits.
  mutating func open(_ id: UInt64, requested: UInt32, _ configuration: ServerConfiguration) -> Opened {
    // Id 0 is the server's own messages' (a connection's errors): a stream's replies under it
    // could not be told from them.
    if id == 0 { return .refused(WireStatus(.invalidArgument, "request id 0 cannot open an ingest stream (id 0 is the server's own)")) }
    if streams[id] != nil {
      return .refused(WireStatus(.invalidArgument, "request id \(id) is already an ingest stream on this connection"))
    }
    guard streams.count < configuration.maxIngestStreamsPerConnection else {
      return .refused(WireStatus(
        .resourceExhausted, "too many ingest streams on this connection (limit \(configuration.maxIngestStreamsPerConnection))"))
    }
    let window = requested == 0 ? configuration.defaultIngestWindow : min(Int(requested), configuration.maxIngestWindow)
    generations += 1
    streams[id] = Stream(window: window, generation: generations)
    return .opened(window: window)
  }

  enum Accepted: Equatable {
    /// Queued, and nobody is committing this stream: start a committer for this generation.
    case startCommitting(generation: UInt64)
    /// Queued behind a running commit.
    case queued
    case refused(WireStatus)
  }

  /// Takes one batch of a stream, or says why not. A batch out of sequence closes the stream;
  /// one past the window or the batch limit is refused and may be sent again.
  /// - Parameters:
  ///   - id: the batch request's id.
  ///   - batch: the batch.
  ///   - bytes: its frame size (given back when it is answered).
  ///   - maxRecords: the batch limit.
  ///   - prepare: starts the batch's work; called only when the batch is taken.
  mutating func accept(_ id: UInt64, _ batch: IngestBatch, bytes: Int = 0, maxRecords: Int, prepare: () -> Prepared) -> Accepted {
    // Its acknowledgement would come under an open stream's id (the stream's own included).
    if streams[id] != nil {
      return .refused(WireStatus(.invalidArgument, "request id \(id) is an open ingest stream on this connection; send the batch under an id of its own"))
    }
    guard var s = streams[batch.stream] else {
      return .refused(WireStatus(.failedPrecondition, "no ingest stream \(batch.stream) is open on this connection"))
    }
    if let closed = s.closed {
      // Said of this batch: repeating the first refusal's numbers would misname it.
      return .refused(WireStatus(.failedPrecondition, "ingest stream \(batch.stream) is closed (\(closed)); batch \(batch.sequence) is refused"))
    }
    if s.ended {
      return .refused(WireStatus(.failedPrecondition, "ingest stream \(batch.stream) has ended (its last batch was sent)"))
    }
    guard batch.sequence == s.nextSequence else {
      // Batches already taken are still committed and acknowledged; later ones are refused.
      let reason = "ingest stream \(batch.stream) expected batch \(s.nextSequence), got \(batch.sequence); the stream is closed"
      s.closed = "batch \(batch.sequence) came when batch \(s.nextSequence) was expected"
      streams[batch.stream] = s.done ? nil : s
      return .refused(WireStatus(.failedPrecondition, reason))
    }
    guard s.unacknowledged < s.window else {
      return .refused(WireStatus(
        .resourceExhausted,
        "ingest stream \(batch.stream) already has \(s.window) unacknowledged batches (its window); wait for an acknowledgement"))
    }
    guard batch.records.count <= maxRecords else {
      return .refused(WireStatus(
        .resourceExhausted, "ingest batch of \(batch.records.count) records exceeds the limit of \(maxRecords); split it"))
    }
    s.nextSequence += 1
    s.unacknowledged += 1
    s.waiting.append(Waiting(id: id, prepared: prepare(), bytes: bytes))
    if batch.last { s.ended = true }
    let start = !s.committing
    s.committing = true
    streams[batch.stream] = s
    return start ? .startCommitting(generation: s.generation) : .queued
  }

  /// The batches waiting to be committed, all of them. None, when `finishing`, means the
  /// committer stops (a batch arriving later starts another); without `finishing` the committer
  /// stays (it still has commits outstanding and will look again).
  mutating func take(_ stream: UInt64, _ generation: UInt64, finishing: Bool) -> [Waiting] {
    guard var s = streams[stream], s.generation == generation else { return [] }
    let batches = s.waiting
    s.waiting = []
    if batches.isEmpty && finishing { s.committing = false }
    streams[stream] = s
    return batches
  }

  /// Batches were acknowledged; a stream whose last batch is acknowledged closes.
  mutating func acknowledged(_ stream: UInt64, _ generation: UInt64, _ count: Int) {
    guard var s = streams[stream], s.generation == generation else { return }
    s.unacknowledged -= count
    streams[stream] = s.done ? nil : s
  }

  /// Closes a stream whose commit failed; returns its batches still waiting (they fail too).
  /// Later batches are refused.
  mutating func fail(_ stream: UInt64, _ generation: UInt64) -> [Waiting] {
    guard let s = streams[stream], s.generation == generation else { return [] }
    streams[stream] = nil
    return s.waiting
  }
}
