import AudienceWire
import NIOCore

/// A request on its way out, with the promise its response completes.
struct PendingRequest: Sendable {
  var request: WireRequest
  var promise: EventLoopPromise<WireResponse>
}

/// Writes requests and matches responses to them by id, so many requests can be in
/// flight on one connection. Lives on the channel's event loop; owns the pending table.
final class ResponseDispatcher: ChannelDuplexHandler {
  typealias InboundIn = ByteBuffer
  typealias OutboundIn = PendingRequest
  typealias OutboundOut = ByteBuffer

  private var pending: [UInt64: EventLoopPromise<WireResponse>] = [:]
  private var closedStatus: WireStatus?

  func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
    let p = unwrapOutboundIn(data)
    if let closedStatus {
      p.promise.fail(closedStatus)
      promise?.fail(closedStatus)
      return
    }
    pending[p.request.id] = p.promise
    var buffer = context.channel.allocator.buffer(capacity: 256)
    WireCodec.encode(p.request, into: &buffer)
    context.write(wrapOutboundOut(buffer), promise: promise)
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    let frame = unwrapInboundIn(data)
    let response: WireResponse
    do {
      response = try WireCodec.decodeResponse(frame)
    } catch {
      failAll(WireStatus(.internal, "undecodable response from server: \(error)"))
      context.close(promise: nil)
      return
    }
    if let promise = pending.removeValue(forKey: response.id) {
      promise.succeed(response)
    } else if response.status.code != .ok {
      // A connection-level error (id 0): the server is about to close.
      failAll(response.status)
    }
  }

  func channelInactive(context: ChannelHandlerContext) {
    failAll(WireStatus(.unavailable, "connection closed by the server"))
    context.fireChannelInactive()
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    failAll(WireStatus(.unavailable, "connection failed: \(error)"))
    context.close(promise: nil)
  }

  private func failAll(_ status: WireStatus) {
    if closedStatus == nil { closedStatus = status }
    let all = pending
    pending = [:]
    for (_, p) in all { p.fail(status) }
  }
}
