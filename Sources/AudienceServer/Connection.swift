import AudienceCore
import AudienceWire
import Logging
import NIOCore

/// Serves one connection on a thread of its own, blocked in `read` between requests (no event
/// loop between the socket and the answer):
/// - bytes are cut into frames by a `FrameDecoder`; the `ConnectionStateMachine` decides;
/// - reads the store answers at once from memory (GetUser, QueryCohort, Health) and Cancel are
///   answered right here, gathered into one buffer per read and written with one `send`, so a
///   pipelined burst costs one write and a lone request a `read` and a `send`;
/// - requests that wait (Ingest for durability, Analyze, anything on a store without immediate
///   reads) run as tasks that queue their responses on the `ConnectionSocket`; at most
///   `maxInFlightPerConnection` at once, past which the thread stops reading (backpressure);
/// - Watch runs as a task that streams events until cancelled (not counted as in flight).
///
/// How reads count against the server's ingest budget is in Connection+Budget.swift; an ingest
/// stream's committer in Connection+Committer.swift (the members they share are internal).
///
/// Everything but `streams` (shared with the committers) is this thread's alone.
final class Connection: @unchecked Sendable {
  let socket: ConnectionSocket
  let server: AudienceServer
  let router: RequestRouter
  let context: ConnectionContext
  private let logger: Logger
  private var decoder: FrameDecoder
  private var machine: ConnectionStateMachine
  var inbound: ByteBuffer
  private var outgoing: ByteBuffer
  /// Bytes received so far, and bytes of the frames cut so far (below while a frame is partial).
  private var received = 0
  private var frameBytes = 0
  private var lastBytes = 0
  private var lastActivity = ContinuousClock.now
  var partialSince: ContinuousClock.Instant?
  /// `frameBytes` when `partialSince` was set: which frame the clock is timing.
  private var partialFrameStart = 0
  private var lastCheck = ContinuousClock.now
  private var closing = false
  /// The frame of 64 KiB or more being read, once its header was: its place among the server's
  /// (`IngestBudget.beginFrame`) and the bytes of it taken from the ingest budget as they came.
  var largeFrame: (place: UInt64, taken: Int)?
  /// The bytes of the frame being handled already in the budget (taken while it was read): its
  /// request keeps them (`takeBudget`), or `handle` gives them back.
  var frameTaken = 0
  /// Each waiting batch carries its validation, started as it was accepted.
  let streams = Guarded(IngestStreams<Task<RequestRouter.PreparedBatch, Never>>())
  private static let allocator = ByteBufferAllocator()

  init(server: AudienceServer, socket: ConnectionSocket, context: ConnectionContext, logger: Logger) {
    self.server = server
    self.router = server.router
    self.socket = socket
    self.context = context
    self.logger = logger
    self.decoder = FrameDecoder(maxFrameBytes: server.configuration.maxFrameBytes)
    self.machine = ConnectionStateMachine(hello: server.router.hello)
    self.inbound = Self.allocator.buffer(capacity: 64 << 10)
    self.outgoing = Self.allocator.buffer(capacity: 16 << 10)
  }

  /// The connection's thread: reads and answers until the peer leaves or the connection closes.
  func run() {
    defer {
      // Nobody is left to read watch events.
      context.stopAllWatches()
      socket.readerStopped()
      if let frame = largeFrame {
        server.ingestBudget.endFrame(frame.place, taken: frame.taken)
        server.ingestBudget.give(frame.taken)
      }
    }
    while !closing {
      let maxRunning = server.configuration.maxInFlightPerConnection
      if largeFrame != nil {
        // Part way through a frame whose bytes hold budget: its clock must run while its peer
        // does not take its responses (it held room until --idle-timeout), and stop while the
        // server's own requests hold the reader.
        let since = ContinuousClock.now
        switch socket.waitToRead(maxRunning: maxRunning, milliseconds: 1_000) {
        case .mayRead: break
        case .shut: return
        case .peerNotReading:
          checkTimeouts()
          continue
        case .requestsRunning:
          pauseFrameClock(since)
          continue
        }
      } else if !socket.waitToRead(maxRunning: maxRunning) {
        return
      }
      makeRoom()
      // The next read: of a large frame begun, as much of it as the budget makes room for.
      var chunk = Self.plainRead
      var taken = 0
      if let remaining = largeFrameRemaining {
        switch takeChunk(of: remaining) {
        case .taken(let bytes): (chunk, taken) = (bytes, bytes)
        case .nothingArrived:
          checkTimeouts()
          continue
        case .gone:
          return finishClosed()
        }
      }
      let before = inbound.readableBytes
      let result = UnixSocket.receive(socket.fd, into: &inbound, room: readSize, atMost: chunk)
      if taken > 0 {
        // What the read did not use goes back at once.
        let got = max(0, inbound.readableBytes - before)
        largeFrame?.taken += got
        if got < taken { server.ingestBudget.giveForFrame(taken - got) }
      }
      switch result {
      case .bytes:
        received = frameBytes + inbound.readableBytes
        // In flight while its requests are answered or started; draining, each is refused.
        let began = context.tryBegin()
        if !began { machine.drain() }
        answerFrames()
        flush()
        if began { context.end() }
        // A peer sending a byte a second never lets the read time out.
        if ContinuousClock.now - lastCheck >= .seconds(1) { checkTimeouts() }
      case .timedOut:
        checkTimeouts()
      case .closed:
        return finishClosed()
      }
    }
  }

  /// The peer sends no more; it may have shut down only its side (`shutdown(SHUT_WR)`, `nc -N`)
  /// and still read. The requests already taken are answered, then the connection closes;
  /// watches end (a peer that closed outright would hold them open).
  private func finishClosed() {
    context.stopAllWatches()
    socket.waitUntilIdle()
    socket.closeWhenWritten()
  }

  /// Room the buffer makes before a read: 64 KiB, or the rest of a large frame begun (a read
  /// takes at most `largeFrameRead` of it).
  private var readSize: Int {
    guard let length = inbound.getInteger(at: inbound.readerIndex, endianness: .big, as: UInt32.self),
      Int(length) <= server.configuration.maxFrameBytes
    else { return 64 << 10 }
    return max(64 << 10, 4 + Int(length) - inbound.readableBytes)
  }

  /// Drops the bytes already cut into frames (and a large buffer once it is empty).
  private func makeRoom() {
    if inbound.readableBytes == 0 {
      if inbound.capacity > 1 << 20 { inbound = Self.allocator.buffer(capacity: 64 << 10) } else { inbound.clear() }
    } else if inbound.readerIndex > 0 {
      inbound.discardReadBytes()
    }
  }

  /// Once a second: close a connection that trickles a frame or sits idle.
  private func checkTimeouts() {
    let now = ContinuousClock.now
    lastCheck = now
    if received > frameBytes {
      // The clock is this frame's: a frame completed since the last check (large frames back to
      // back, each partial at every check) starts it again. It was kept from the first partial
      // frame seen, and a loader sending 2 MB batches steadily was cut off after 30 s.
      if partialSince == nil || partialFrameStart != frameBytes {
        partialSince = now
        partialFrameStart = frameBytes
      }
      let since = partialSince ?? now
      let limit = server.configuration.frameTimeout
      if now - since >= limit {
        logger.info("closing connection: frame incomplete", metadata: ["audience.timeout": "\(limit)"])
        closeAfter(WireResponse(id: 0, status: WireStatus(.deadlineExceeded, "a frame was not completed within \(limit); closing")))
      }
      return
    }
    partialSince = nil
    if received != lastBytes {
      lastBytes = received
      lastActivity = now
    }
    let limit = server.configuration.idleTimeout
    // A request in flight, a watch or an open ingest stream is activity: a loader whose input
    // pauses (a quiet pipe) holds its stream open between batches, and was closed as idle.
    if socket.running > 0 || context.watchCount > 0 || !streams.withLock({ $0.streams.isEmpty }) { lastActivity = now }
    if now - lastActivity >= limit {
      logger.info("closing idle connection", metadata: ["audience.timeout": "\(limit)"])
      closeAfter(WireResponse(id: 0, status: WireStatus(.unavailable, "idle for \(limit); closing")))
    }
  }

  /// Answers the whole frames received so far, in order. Responses gathered past `flushBytes`
  /// are written before the next frame; while the peer does not take them, nothing more is read.
  private func answerFrames() {
    do {
      while !closing, let frame = try decoder.decode(buffer: &inbound) {
        handle(frame)
        if outgoing.readableBytes >= flushBytes {
          flush()
          if !socket.waitForRoom() { closing = true }
        }
      }
    } catch {
      failFraming(error)
    }
  }

  /// Responses gathered in a burst past this many bytes are written before the next frame.
  private var flushBytes: Int { min(1 << 20, server.configuration.maxBufferedBytes) }

  /// One whole frame: a request to decode and answer.
  private func handle(_ frame: ByteBuffer) {
    frameBytes += 4 + frame.readableBytes
    // The large frame read after its header is this one, the first after it.
    if let large = largeFrame {
      server.ingestBudget.endFrame(large.place, taken: large.taken)
      frameTaken = large.taken
      largeFrame = nil
    }
    defer {
      // Taken while it was read, and not kept by an ingest.
      if frameTaken > 0 {
        server.ingestBudget.give(frameTaken)
        frameTaken = 0
      }
    }
    let action: ConnectionStateMachine.Action
    do {
      action = machine.received(try WireCodec.decodeRequest(frame) { bytes, unpack in try roomToUnpack(bytes, unpack) })
    } catch {
      let status = (error as? WireStatus) ?? (error as? AudienceError).map(WireStatus.init) ?? WireStatus(.invalidArgument, "\(error)")
      logger.debug("bad request frame", metadata: ["audience.error": "\(status)"])
      action = machine.decodeFailed(id: WireCodec.peekRequestID(frame), status: status)
    }
    switch action {
    case .reply(let response, let close):
      if close { closeAfter(response) } else { write(response) }
    case .dispatch(let request):
      dispatch(request, bytes: 4 + frame.readableBytes)
    }
  }

  private func dispatch(_ request: WireRequest, bytes: Int) {
    switch request.body {
    case .cancel(let target):
      write(WireResponse(id: request.id, body: .cancel(found: context.stopWatch(target))))
    case .watch(let filter):
      // One id, one thing: a Cancel of it, and the replies under it, must name one; and id 0 is
      // the server's own messages'.
      if request.id == 0 {
        return write(WireResponse(id: 0, status: WireStatus(.invalidArgument, "request id 0 cannot open a watch (id 0 is the server's own)")))
      }
      if streams.withLock({ $0.streams[request.id] != nil }) {
        return write(WireResponse(
          id: request.id, status: WireStatus(.invalidArgument, "request id \(request.id) is already an ingest stream on this connection")))
      }
      let (server, context, logger) = (self.server, self.context, self.logger)
      let writer = ResponseWriter(socket: socket)
      // Its place is taken here, in request order, so that a Cancel read next finds it.
      let reserved = context.reserveWatch(request.id, limit: server.configuration.maxWatchesPerConnection)
      context.begin()
      Task {
        await server.runWatch(request.id, filter, reserved: reserved, context, writer, logger)
        context.end()
      }
    case .ingestStream(let window):
      if context.isWatching(request.id) {
        return write(WireResponse(
          id: request.id, status: WireStatus(.invalidArgument, "request id \(request.id) is already a watch on this connection")))
      }
      switch streams.withLock({ $0.open(request.id, requested: window, server.configuration) }) {
      case .opened(let granted): write(WireResponse(id: request.id, body: .ingestStream(window: granted)))
      case .refused(let status): write(WireResponse(id: request.id, status: status))
      }
    case .ingestBatch(let batch):
      let (limit, router) = (server.configuration.maxRecordsPerBatch, self.router)
      // Validated on a task as soon as it is taken, while earlier batches are being committed.
      // The records are the task's alone once this request is released: validation moves
      // each one out instead of copying it.
      if context.isWatching(request.id) {
        return write(WireResponse(
          id: request.id, status: WireStatus(.invalidArgument, "request id \(request.id) is a watch on this connection; send the batch under an id of its own")))
      }
      guard takeBudget(bytes) else { return }
      let records = Handoff(batch.records)
      let accepted = streams.withLock {
        $0.accept(request.id, batch, bytes: bytes, maxRecords: limit) { Task { router.prepare(records.take()) } }
      }
      switch accepted {
      case .refused(let status):
        server.ingestBudget.give(bytes)
        write(WireResponse(id: request.id, status: status))
      case .queued:
        socket.began()
      case .startCommitting(let generation):
        socket.began()
        startCommitter(stream: batch.stream, generation: generation)
      }
    default:
      if router.handleNow(request, into: &outgoing) { return }
      // An Ingest's bytes count against the server's budget until the store has answered it.
      let held: Int
      switch request.body {
      case .ingest, .ingestReceived:
        guard takeBudget(bytes) else { return }
        held = bytes
      default:
        held = 0
      }
      socket.began()
      context.begin()
      let (server, context, socket) = (self.server, self.context, self.socket)
      let writer = ResponseWriter(socket: socket)
      let (id, timeoutMs) = (request.id, request.timeoutMs)
      let box = Handoff(request)
      Task {
        await server.respond(to: box, id: id, timeoutMs: timeoutMs, writer) { if held > 0 { server.ingestBudget.give(held) } }
        socket.finished()
        context.end()
      }
    }
  }

  private func write(_ response: WireResponse) {
    WireCodec.encode(response, into: &outgoing)
  }

  /// Writes the burst's responses.
  func flush() {
    guard outgoing.readableBytes > 0 else { return }
    socket.sendNow(outgoing)
    if outgoing.capacity > 1 << 20 { outgoing = Self.allocator.buffer(capacity: 16 << 10) } else { outgoing.clear() }
  }

  /// Writes a last response, then closes once it is written.
  private func closeAfter(_ response: WireResponse) {
    write(response)
    flush()
    closing = true
    socket.closeWhenWritten()
  }

  /// The bytes are not frames of this protocol: says why, then closes.
  private func failFraming(_ error: any Error) {
    logger.info("closing connection: bad framing", metadata: ["audience.error": "\(error)"])
    let code: StatusCode = if case .tooLarge = error as? FrameError { .resourceExhausted } else { .invalidArgument }
    closeAfter(WireResponse(id: 0, status: WireStatus(code, "\(error)")))
  }
}

/// Writes responses from tasks off the connection's thread.
struct ResponseWriter: Sendable {
  let socket: ConnectionSocket

  /// Writes several responses at once; false when the connection is gone.
  func write(_ responses: [WireResponse]) async -> Bool {
    await socket.send(AudienceServer.frames(responses))
  }

  /// Queues responses to be written in order, without waiting for the write.
  func post(_ responses: [WireResponse]) {
    socket.post(AudienceServer.frames(responses))
  }

  /// Writes one response; false when the connection is gone.
  func write(_ response: WireResponse) async -> Bool { await write([response]) }
}
