import AudienceCore
import AudienceWire
import Logging
import NIOCore
import Synchronization

extension AudienceServer {
  /// Serves one connection until the peer closes it, it breaks the framing, or shutdown drains it.
  func serve(_ channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
    let context = ConnectionContext(channel: channel.channel)
    if connections.count >= configuration.maxConnections {
      await refuse(channel, WireStatus(.resourceExhausted, "too many connections (limit \(configuration.maxConnections))"))
      return
    }
    let id = connections.register(context)
    defer { connections.remove(id) }
    var logger = self.logger
    logger[metadataKey: "audience.connection"] = "\(id)"
    do {
      try await channel.executeThenClose { inbound, outbound in
        try await self.readLoop(inbound, outbound, context, logger)
      }
    } catch {
      logger.debug("connection ended", metadata: ["audience.error": "\(error)"])
    }
  }

  private func refuse(_ channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>, _ status: WireStatus) async {
    try? await channel.executeThenClose { _, outbound in
      try await outbound.write(Self.frame(WireResponse(id: 0, status: status)))
    }
  }

  private func readLoop(
    _ inbound: NIOAsyncChannelInboundStream<ByteBuffer>, _ outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
    _ context: ConnectionContext, _ logger: Logger
  ) async throws {
    var machine = ConnectionStateMachine(hello: router.hello)
    let maxInFlight = configuration.maxInFlightPerConnection
    // Each task returns whether it counted against maxInFlight.
    try await withThrowingTaskGroup(of: Bool.self) { group in
      var running = 0
      do {
        for try await frame in inbound {
          if context.isDraining { machine.drain() }
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
            try await outbound.write(Self.frame(response))
            if close { return }
          case .dispatch(let request):
            switch request.body {
            case .cancel(let target):
              let found = context.stopWatch(target)
              try await outbound.write(Self.frame(WireResponse(id: request.id, body: .cancel(found: found))))
            case .watch(let filter):
              // Watches run until cancelled; they do not count against maxInFlight.
              context.begin()
              group.addTask {
                await self.runWatch(request.id, filter, context, outbound, logger)
                context.end()
                return false
              }
            default:
              while running >= maxInFlight {
                if try await group.next() == true { running -= 1 }
              }
              context.begin()
              running += 1
              group.addTask {
                await self.respond(to: request, outbound)
                context.end()
                return true
              }
            }
          }
        }
      } catch let error as FrameError {
        logger.info("closing connection: bad framing", metadata: ["audience.error": "\(error)"])
        let code: StatusCode = if case .tooLarge = error { .resourceExhausted } else { .invalidArgument }
        try? await outbound.write(Self.frame(WireResponse(id: 0, status: WireStatus(code, error.description))))
      }
      // The peer is gone or the connection is closing: nobody is left to read watch events.
      context.stopAllWatches()
      try await group.waitForAll()
    }
  }

  /// Runs a request and writes its response; past the request's deadline writes
  /// DEADLINE_EXCEEDED instead (the request may still complete: ingest is idempotent, so
  /// resending is safe).
  private func respond(to request: WireRequest, _ outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) async {
    guard request.timeoutMs > 0 else {
      try? await outbound.write(Self.frame(await router.handle(request)))
      return
    }
    let claim = Claim()
    await withTaskGroup(of: Void.self) { group in
      group.addTask {
        let response = await self.router.handle(request)
        if claim.take() { try? await outbound.write(Self.frame(response)) }
      }
      group.addTask {
        do { try await Task.sleep(for: .milliseconds(Int(request.timeoutMs))) } catch { return }
        guard claim.take() else { return }
        let status = WireStatus(.deadlineExceeded, "request \(request.id) did not finish within \(request.timeoutMs) ms")
        try? await outbound.write(Self.frame(WireResponse(id: request.id, status: status)))
      }
      await group.next()
      group.cancelAll()
    }
  }

  static func frame(_ response: WireResponse) -> ByteBuffer {
    var buffer = ByteBuffer()
    WireCodec.encode(response, into: &buffer)
    return buffer
  }
}

/// Who answers a request first: its handler or its deadline.
private final class Claim: Sendable {
  private let taken = Atomic<Bool>(false)
  func take() -> Bool { !taken.exchange(true, ordering: .acquiringAndReleasing) }
}
