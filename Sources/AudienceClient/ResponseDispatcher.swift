import AudienceWire
import NIOCore

/// A request on its way out, with where its response goes.
struct PendingRequest: Sendable {
  var request: WireRequest
  var sink: ResponseSink
}

/// Where responses to one request go: a promise for the one response of a call (decoded, or its
/// frame as it came, for the caller to read), or a stream for a watch's events (finished by
/// ENDED or by an error status).
enum ResponseSink: Sendable {
  case single(EventLoopPromise<WireResponse>)
  case frame(EventLoopPromise<ByteBuffer>)
  case stream(AsyncThrowingStream<WatchEvent, any Error>.Continuation, WatchPacing? = nil)

  func fail(_ status: WireStatus) {
    switch self {
    case .single(let p): p.fail(status)
    case .frame(let p): p.fail(status)
    case .stream(let c, _): c.finish(throwing: status)
    }
  }
}

/// Writes requests and matches responses to them by id, so many requests can be in
/// flight on one connection. Lives on the channel's event loop; owns the pending table.
final class ResponseDispatcher: ChannelDuplexHandler {
  typealias InboundIn = ByteBuffer
  typealias OutboundIn = PendingRequest
  typealias OutboundOut = ByteBuffer

  private var pending: [UInt64: ResponseSink] = [:]
  private var closedStatus: WireStatus?
  private let closeReason: CloseReason

  init(closeReason: CloseReason) { self.closeReason = closeReason }

  func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
    let p = unwrapOutboundIn(data)
    if let closedStatus {
      // The sender fails the request when this write fails.
      promise?.fail(closedStatus)
      return
    }
    pending[p.request.id] = p.sink
    var buffer = context.channel.allocator.buffer(capacity: 256)
    WireCodec.encode(p.request, into: &buffer)
    context.write(wrapOutboundOut(buffer), promise: promise)
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    let frame = unwrapInboundIn(data)
    // A frame asked for as it came skips decoding here (its id is the first field, as every
    // encoder writes it); the caller reads it off the event loop.
    if let id = WireCodec.leadingResponseID(frame), case .frame(let promise)? = pending[id] {
      pending[id] = nil
      promise.succeed(frame)
      return
    }
    do {
      let response = try WireCodec.decodeResponse(frame)
      switch pending[response.id] {
      case .frame(let promise)?:
        pending[response.id] = nil
        promise.succeed(frame)
      case .single(let promise)?:
        pending[response.id] = nil
        promise.succeed(response)
      case .stream(let continuation, let pacing)?:
        if response.status.code != .ok {
          pending[response.id] = nil
          continuation.finish(throwing: response.status)
        } else if case .watch(let event)? = response.body {
          if case .enqueued = continuation.yield(event) { pacing?.arrived() } else { pacing?.stop() }
          if event == .ended {
            pending[response.id] = nil
            continuation.finish()
          }
        } else {
          pending[response.id] = nil
          continuation.finish(throwing: WireStatus(.internal, "server answered a watch with another method's response"))
        }
      case nil where response.status.code != .ok:
        // A connection-level error (id 0): the server is about to close.
        closeReason.record(response.status)
        failAll(response.status)
      case nil:
        break  // a late event of a watch the client already let go of
      }
    } catch {
      failAll(WireStatus(.internal, "undecodable response from server: \(error)"))
      context.close(promise: nil)
    }
  }

  func channelInactive(context: ChannelHandlerContext) {
    failAll(WireStatus(.unavailable, "connection closed by the server"))
    context.fireChannelInactive()
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    failAll(WireStatus(.unavailable, "connection failed: \(AudienceClient.describe(error))"))
    context.close(promise: nil)
  }

  private func failAll(_ status: WireStatus) {
    if closedStatus == nil { closedStatus = status }
    let all = pending
    pending = [:]
    for (_, p) in all { p.fail(status) }
  }
}
