import AudienceCore
import AudienceWire
import Logging
import NIOCore

/// Serves one connection on its event loop, the swift-nio way: bytes come in and are cut into
/// frames by a `FrameDecoder` (called directly: one handler per connection, no generic decoder
/// handler and no wrapping between handlers on the per-request path), the
/// `ConnectionStateMachine` decides, and
/// - reads the store answers at once from memory (GetUser, QueryCohort, Health) and Cancel
///   are answered right here, written without a flush and flushed once per read burst, so a
///   pipelined burst costs one write syscall;
/// - requests that wait (Ingest for durability, Analyze, anything on a store without
///   immediate reads) run as tasks and write their responses when done; at most
///   `maxInFlightPerConnection` of them at once, past which the handler stops reading the
///   socket (backpressure) until one finishes;
/// - Watch runs as a task that streams events until cancelled (not counted as in flight).
final class ConnectionHandler: ChannelDuplexHandler {
  typealias InboundIn = ByteBuffer
  typealias OutboundIn = ByteBuffer
  typealias OutboundOut = ByteBuffer

  private let server: AudienceServer
  /// The server's router, held here so a request does not copy it out of the server.
  private let router: RequestRouter
  private let connection: ConnectionContext
  private let logger: Logger
  private var decoder: FrameDecoder
  /// Received bytes not yet cut into frames (a partial frame), if any.
  private var unframed: ByteBuffer?
  /// Bytes received so far.
  private var received = 0
  /// Bytes of the frames decoded so far; below `received` while a frame is partial.
  private var frameBytes = 0
  private var lastActivity = NIODeadline.now()
  private var partialSince: NIODeadline?
  private var timer: RepeatedTask?
  private var machine: ConnectionStateMachine
  private var context: ChannelHandlerContext?
  private var running = 0
  private var readHeld = false
  /// Responses answered on the event loop during this read burst: written and flushed as one
  /// buffer when the burst ends (`channelReadComplete`).
  private var outgoing: ByteBuffer?
  private var closing = false
  private var streams = IngestStreams()

  init(server: AudienceServer, connection: ConnectionContext, logger: Logger) {
    self.server = server
    self.router = server.router
    self.connection = connection
    self.decoder = FrameDecoder(maxFrameBytes: server.configuration.maxFrameBytes)
    self.logger = logger
    self.machine = ConnectionStateMachine(hello: server.router.hello)
  }

  func handlerAdded(context: ChannelHandlerContext) {
    self.context = context
    let me = NIOLoopBound(self, eventLoop: context.eventLoop)
    timer = context.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
      me.value.checkTimeouts()
    }
  }

  func handlerRemoved(context: ChannelHandlerContext) {
    timer?.cancel()
    timer = nil
    self.context = nil
  }

  /// Once a second: close a connection that trickles a frame or sits idle.
  private func checkTimeouts() {
    guard let context, !closing else { return }
    let now = NIODeadline.now()
    if received > frameBytes {
      let since = partialSince ?? now
      partialSince = since
      let limit = server.configuration.frameTimeout
      if now - since >= Self.amount(limit) {
        logger.info("closing connection: frame incomplete", metadata: ["audience.timeout": "\(limit)"])
        closeAfter(context, WireResponse(id: 0, status: WireStatus(.deadlineExceeded, "a frame was not completed within \(limit); closing")))
      }
      return
    }
    partialSince = nil
    if received != lastBytes {
      lastBytes = received
      lastActivity = now
    }
    let limit = server.configuration.idleTimeout
    let busy = running > 0 || connection.watchCount > 0
    if busy { lastActivity = now }
    if now - lastActivity >= Self.amount(limit) {
      logger.debug("closing idle connection", metadata: ["audience.timeout": "\(limit)"])
      closeAfter(context, WireResponse(id: 0, status: WireStatus(.unavailable, "idle for \(limit); closing")))
    }
  }

  private var lastBytes = 0

  private static func amount(_ d: Duration) -> TimeAmount {
    .nanoseconds(d.components.seconds * 1_000_000_000 + d.components.attoseconds / 1_000_000_000)
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    guard !closing else { return }
    var bytes = unwrapInboundIn(data)
    received += bytes.readableBytes
    if var earlier = unframed {
      unframed = nil  // uniquely referenced again, so the append below does not copy
      earlier.writeBuffer(&bytes)
      bytes = earlier
    }
    unframed = bytes
    answerFrames(context)
  }

  /// Answers the whole frames received so far, in order. Responses gathered past `flushBytes`
  /// are written at once; when the peer stops reading (the channel is not writable) the rest
  /// wait, unanswered and unread from the socket, until it reads again.
  private func answerFrames(_ context: ChannelHandlerContext) {
    guard var bytes = unframed else { return }
    unframed = nil
    do {
      while !closing, context.channel.isWritable, let frame = try decoder.decode(buffer: &bytes) {
        handle(frame, context)
        if (outgoing?.readableBytes ?? 0) >= flushBytes { flushOutgoing(context) }
      }
    } catch {
      failFraming(context, error)
      return
    }
    if bytes.readableBytes > 0 {
      bytes.discardReadBytes()
      unframed = bytes
    }
  }

  /// Responses gathered in a burst past this many bytes are written before the next frame.
  private var flushBytes: Int { min(1 << 20, server.configuration.maxBufferedBytes) }

  /// One whole frame: a request to decode and answer.
  private func handle(_ frame: ByteBuffer, _ context: ChannelHandlerContext) {
    frameBytes += 4 + frame.readableBytes
    if connection.isDraining { machine.drain() }
    let action: ConnectionStateMachine.Action
    do {
      action = machine.received(try WireCodec.decodeRequest(frame))
    } catch {
      let status = (error as? WireStatus) ?? (error as? AudienceError).map(WireStatus.init) ?? WireStatus(.invalidArgument, "\(error)")
      logger.debug("bad request frame", metadata: ["audience.error": "\(status)"])
      action = machine.decodeFailed(id: WireCodec.peekRequestID(frame), status: status)
    }
    switch action {
    case .reply(let response, let close):
      if close { closeAfter(context, response) } else { write(context, response) }
    case .dispatch(let request):
      dispatch(context, request)
    }
  }

  private func dispatch(_ context: ChannelHandlerContext, _ request: WireRequest) {
    switch request.body {
    case .cancel(let target):
      write(context, WireResponse(id: request.id, body: .cancel(found: connection.stopWatch(target))))
    case .watch(let filter):
      let (server, connection, logger) = (self.server, self.connection, self.logger)
      let writer = ResponseWriter(channel: context.channel)
      connection.begin()
      Task {
        await server.runWatch(request.id, filter, connection, writer, logger)
        connection.end()
      }
    case .ingestStream(let window):
      switch streams.open(request.id, requested: window, server.configuration) {
      case .opened(let granted): write(context, WireResponse(id: request.id, body: .ingestStream(window: granted)))
      case .refused(let status): write(context, WireResponse(id: request.id, status: status))
      }
    case .ingestBatch(let batch):
      switch streams.accept(request.id, batch, maxRecords: server.configuration.maxRecordsPerBatch) {
      case .refused(let status):
        write(context, WireResponse(id: request.id, status: status))
      case .queued:
        running += 1
      case .startCommitting:
        running += 1
        startCommitter(context, stream: batch.stream)
      }
    default:
      var frames = takeOutgoing(context)
      let answered = router.handleNow(request, into: &frames)
      outgoing = frames
      if answered { return }
      running += 1
      connection.begin()
      let (server, connection) = (self.server, self.connection)
      let writer = ResponseWriter(channel: context.channel)
      let loop = context.eventLoop
      let me = NIOLoopBound(self, eventLoop: loop)
      Task {
        await server.respond(to: request, writer)
        loop.execute { me.value.finishedOne() }
        connection.end()
      }
    }
  }

  /// Commits an ingest stream's waiting batches, all that are waiting each time, in order, until
  /// none is left; acknowledges each batch once durable (one flush per commit).
  private func startCommitter(_ context: ChannelHandlerContext, stream: UInt64) {
    let (server, connection) = (self.server, self.connection)
    let writer = ResponseWriter(channel: context.channel)
    let loop = context.eventLoop
    let me = NIOLoopBound(self, eventLoop: loop)
    connection.begin()
    Task {
      defer { connection.end() }
      while true {
        guard let batches = try? await loop.submit({ me.value.streams.take(stream) }).get(), !batches.isEmpty else { return }
        var responses: [WireResponse]
        var failed = false
        do {
          let summaries = try await server.router.ingest(batches: batches.map(\.batch.records))
          responses = zip(batches, summaries).map { WireResponse(id: $0.id, body: .ingest($1)) }
        } catch {
          failed = true
          let rest = (try? await loop.submit({ me.value.streams.fail(stream) }).get()) ?? []
          responses = (batches + rest).map { RequestRouter.failure($0.id, error) }
        }
        // Count them as acknowledged before the client can see the acknowledgements (the loop
        // runs this before the write below), so a client that sends on receipt is in its window.
        let answered = responses.count
        loop.execute { me.value.acknowledged(stream, answered) }
        _ = await writer.write(responses)
        if failed { return }
      }
    }
  }

  /// Batches of an ingest stream were answered: they no longer count as in flight.
  fileprivate func acknowledged(_ stream: UInt64, _ count: Int) {
    streams.acknowledged(stream, count)
    running -= count
    resumeReading()
  }

  /// A task-run request finished: resume reading if the limit held it.
  fileprivate func finishedOne() {
    running -= 1
    resumeReading()
  }

  /// Reads again if reading was held and neither limit holds it any more.
  private func resumeReading() {
    guard let context, !closing else { return }
    // Frames held back while the peer was not reading come first.
    if context.channel.isWritable, (unframed?.readableBytes ?? 0) > 0 {
      answerFrames(context)
      flushOutgoing(context)
    }
    guard readHeld, mayRead(context) else { return }
    readHeld = false
    context.read()
  }

  /// Below the in-flight limit, and the responses not yet taken by the peer are below the
  /// buffer's high-water mark (a peer that does not read cannot make the server buffer more).
  private func mayRead(_ context: ChannelHandlerContext) -> Bool {
    running < server.configuration.maxInFlightPerConnection && context.channel.isWritable
      && (unframed?.readableBytes ?? 0) <= server.configuration.maxFrameBytes + 4
  }

  func channelWritabilityChanged(context: ChannelHandlerContext) {
    resumeReading()
    context.fireChannelWritabilityChanged()
  }

  /// The burst's response buffer, taken out so appending to it does not copy.
  private func takeOutgoing(_ context: ChannelHandlerContext) -> ByteBuffer {
    defer { outgoing = nil }
    return outgoing ?? context.channel.allocator.buffer(capacity: 4096)
  }

  private func write(_ context: ChannelHandlerContext, _ response: WireResponse) {
    var frames = takeOutgoing(context)
    WireCodec.encode(response, into: &frames)
    outgoing = frames
  }

  /// Writes and flushes the burst's responses.
  private func flushOutgoing(_ context: ChannelHandlerContext) {
    guard let frames = outgoing, frames.readableBytes > 0 else { return }
    outgoing = nil
    context.writeAndFlush(wrapOutboundOut(frames), promise: nil)
  }

  /// Writes a last response, then closes once it is on its way.
  private func closeAfter(_ context: ChannelHandlerContext, _ response: WireResponse) {
    flushOutgoing(context)
    closing = true
    let channel = context.channel
    context.writeAndFlush(wrapOutboundOut(AudienceServer.frame(response, channel.allocator))).whenComplete { _ in channel.close(promise: nil) }
  }

  func channelReadComplete(context: ChannelHandlerContext) {
    flushOutgoing(context)
    context.fireChannelReadComplete()
  }

  func read(context: ChannelHandlerContext) {
    if mayRead(context) {
      context.read()
    } else {
      readHeld = true
    }
  }


  func channelInactive(context: ChannelHandlerContext) {
    // Nobody is left to read watch events.
    connection.stopAllWatches()
    context.fireChannelInactive()
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    guard !closing else { return }
    logger.debug("connection failed", metadata: ["audience.error": "\(error)"])
    closing = true
    context.close(promise: nil)
  }

  /// The bytes are not frames of this protocol: says why, then closes.
  private func failFraming(_ context: ChannelHandlerContext, _ error: any Error) {
    logger.info("closing connection: bad framing", metadata: ["audience.error": "\(error)"])
    let code: StatusCode = if case .tooLarge = error as? FrameError { .resourceExhausted } else { .invalidArgument }
    closeAfter(context, WireResponse(id: 0, status: WireStatus(code, "\(error)")))
  }
}

/// Writes responses from tasks off the event loop.
struct ResponseWriter: Sendable {
  let channel: any Channel

  /// Writes several responses with one flush; false when the connection is gone.
  func write(_ responses: [WireResponse]) async -> Bool {
    guard let last = responses.last else { return true }
    for r in responses.dropLast() { channel.write(AudienceServer.frame(r, channel.allocator), promise: nil) }
    return await write(last)
  }

  /// Writes and flushes one response; false when the connection is gone.
  func write(_ response: WireResponse) async -> Bool {
    do {
      try await channel.writeAndFlush(AudienceServer.frame(response, channel.allocator))
      return true
    } catch {
      return false
    }
  }
}
