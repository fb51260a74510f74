import AudienceCore
import AudienceWire
import Logging
import NIOCore
import Synchronization
internal import Glibc

extension AudienceServer {
  /// Sets up an accepted connection: its handler, or a refusal past the limit.
  /// Runs on the connection's event loop, before its first read.
  func setUpConnection(_ channel: any Channel) throws {
    let context = ConnectionContext(channel: channel)
    guard connections.count < configuration.maxConnections else {
      try refuse(channel, WireStatus(.resourceExhausted, "too many connections (limit \(configuration.maxConnections))"))
      return
    }
    let id = connections.register(context)
    channel.closeFuture.whenComplete { _ in self.connections.remove(id) }
    var logger = self.logger
    logger[metadataKey: "audience.connection"] = "\(id)"
    try channel.pipeline.syncOperations.addHandler(ConnectionHandler(server: self, connection: context, logger: logger))
  }

  /// Answers a connection with one status frame and closes it.
  func refuse(_ channel: any Channel, _ status: WireStatus) throws {
    channel.writeAndFlush(Self.frame(WireResponse(id: 0, status: status), channel.allocator)).whenComplete { _ in channel.close(promise: nil) }
  }

  /// Why the peer may not connect (nil: it may), from its SO_PEERCRED credentials.
  func checkPeer(_ channel: any Channel) -> EventLoopFuture<WireStatus?> {
    let uids = configuration.allowedUIDs, gids = configuration.allowedGIDs
    guard uids != nil || gids != nil else { return channel.eventLoop.makeSucceededFuture(nil) }
    guard let provider = channel as? any SocketOptionProvider else {
      return channel.eventLoop.makeSucceededFuture(WireStatus(.permissionDenied, "cannot read the peer's credentials"))
    }
    let logger = self.logger
    let credentials: EventLoopFuture<PeerCredentials> = provider.unsafeGetSocketOption(
      level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
    return credentials.map { peer -> WireStatus? in
      if uids?.contains(peer.uid) == true || gids?.contains(peer.gid) == true { return nil }
      logger.notice("refused a connection", metadata: ["audience.peer.uid": "\(peer.uid)", "audience.peer.gid": "\(peer.gid)"])
      return WireStatus(
        .permissionDenied,
        "uid \(peer.uid) (gid \(peer.gid)) may not connect to this server (see audienced --allow-uid / --allow-gid)")
    }.recover { error in
      WireStatus(.permissionDenied, "cannot read the peer's credentials: \(error)")
    }
  }

  /// Runs a request and writes its response; past the request's deadline writes
  /// DEADLINE_EXCEEDED instead (the request may still complete: ingest is idempotent, so
  /// resending is safe).
  func respond(to request: WireRequest, _ writer: ResponseWriter) async {
    guard request.timeoutMs > 0 else {
      _ = await writer.write(await router.handle(request))
      return
    }
    let claim = Claim()
    await withTaskGroup(of: Void.self) { group in
      group.addTask {
        let response = await self.router.handle(request)
        if claim.take() { _ = await writer.write(response) }
      }
      group.addTask {
        do { try await Task.sleep(for: .milliseconds(Int(request.timeoutMs))) } catch { return }
        guard claim.take() else { return }
        let status = WireStatus(.deadlineExceeded, "request \(request.id) did not finish within \(request.timeoutMs) ms")
        _ = await writer.write(WireResponse(id: request.id, status: status))
      }
      await group.next()
      group.cancelAll()
    }
  }

  /// One response as a frame (length prefix included), in the channel's allocator's memory.
  static func frame(_ response: WireResponse, _ allocator: ByteBufferAllocator) -> ByteBuffer {
    var buffer = allocator.buffer(capacity: 256)
    WireCodec.encode(response, into: &buffer)
    return buffer
  }
}

/// `struct ucred` of SO_PEERCRED: three 32-bit fields, in this order.
struct PeerCredentials: Sendable {
  var pid: Int32 = 0
  var uid: UInt32 = 0
  var gid: UInt32 = 0
}

/// Who answers a request first: its handler or its deadline.
private final class Claim: Sendable {
  private let taken = Atomic<Bool>(false)
  func take() -> Bool { !taken.exchange(true, ordering: .acquiringAndReleasing) }
}
