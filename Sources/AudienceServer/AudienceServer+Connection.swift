import AudienceCore
import AudienceWire
import Logging
import NIOCore
import Synchronization
internal import Glibc

extension AudienceServer {
  /// Takes an accepted connection (on the accepting thread): checks the peer and the
  /// connection limit, then starts the connection's thread.
  func accepted(_ fd: Int32) {
    // A page of 10,000 users is about 1.3 MB: with the default send buffer (208 KiB) it
    // crosses the socket in seven fills, each a round of wake-ups between the two processes.
    // The kernel caps this at net.core.wmem_max; it bounds what is queued, it is not allocated.
    UnixSocket.set(fd, SO_SNDBUF, 4 << 20)
    // The connection's thread wakes once a second without bytes to check its timeouts, and a
    // write to a peer that does not read wakes once a second to see how long it has stalled.
    UnixSocket.setTimeout(fd, SO_RCVTIMEO, seconds: 1)
    UnixSocket.setTimeout(fd, SO_SNDTIMEO, seconds: 1)
    if let refusal = peerRefusal(fd) {
      refuse(fd, refusal)
      return
    }
    guard connections.count < configuration.maxConnections else {
      logger.info("refusing a connection: too many", metadata: ["audience.connections": "\(configuration.maxConnections)"])
      refuse(fd, WireStatus(.resourceExhausted, "too many connections (limit \(configuration.maxConnections))"))
      return
    }
    let connections = self.connections
    let id = connections.nextID()
    var logger = self.logger
    logger[metadataKey: "audience.connection"] = "\(id)"
    let socket = ConnectionSocket(
      fd: fd, highWater: configuration.maxBufferedBytes, stallLimit: configuration.idleTimeout, logger: logger
    ) { connections.remove(id) }
    let context = ConnectionContext(socket: socket)
    connections.register(id, context)
    let connection = Connection(server: self, socket: socket, context: context, logger: logger)
    do {
      try Threads.start(name: "audience-conn") { connection.run() }
    } catch {
      logger.error("refusing a connection: \(error.message)")
      socket.close()
      socket.readerStopped()
    }
  }

  /// Answers a connection with one status frame (if its buffer takes it at once) and closes it.
  func refuse(_ fd: Int32, _ status: WireStatus) {
    _ = UnixSocket.send(fd, Self.frames([WireResponse(id: 0, status: status)]), wait: false)
    close(fd)
  }

  /// Why the peer may not connect (nil: it may), from its SO_PEERCRED credentials.
  func peerRefusal(_ fd: Int32) -> WireStatus? {
    let uids = configuration.allowedUIDs, gids = configuration.allowedGIDs
    guard uids != nil || gids != nil else { return nil }
    guard let peer = UnixSocket.peerCredentials(fd) else {
      return WireStatus(.permissionDenied, "cannot read the peer's credentials: \(String(cString: strerror(errno)))")
    }
    if uids?.contains(peer.uid) == true || gids?.contains(peer.gid) == true { return nil }
    // A group's members are usually members through a supplementary group, which SO_PEERCRED
    // does not carry: the peer process's groups are read from /proc.
    if let gids, !gids.isDisjoint(with: UnixSocket.supplementaryGroups(of: peer)) { return nil }
    logger.notice("refused a connection", metadata: ["audience.peer.uid": "\(peer.uid)", "audience.peer.gid": "\(peer.gid)"])
    return WireStatus(
      .permissionDenied,
      "uid \(peer.uid) (gid \(peer.gid)) may not connect to this server (see audienced --allow-uid / --allow-gid)")
  }

  /// Runs a request and writes its response; past the request's deadline writes
  /// DEADLINE_EXCEEDED instead (the request may still complete: ingest is idempotent, so
  /// resending is safe). The request is taken from its handoff to be handled, and released once
  /// the store has answered it, before the response is written (a peer that does not read its
  /// responses holds only those); `handled` is called then.
  func respond(to box: Handoff<WireRequest>, id: UInt64, timeoutMs: UInt32, _ writer: ResponseWriter, handled: @escaping @Sendable () -> Void) async {
    guard timeoutMs > 0 else {
      let response = await router.handle(box.take())
      handled()
      _ = await writer.write(response)
      return
    }
    let claim = Claim()
    await withTaskGroup(of: Void.self) { group in
      group.addTask {
        let response = await self.router.handle(box.take())
        handled()
        if claim.take() { _ = await writer.write(response) }
      }
      group.addTask {
        do { try await Task.sleep(for: .milliseconds(Int(timeoutMs))) } catch { return }
        guard claim.take() else { return }
        let status = WireStatus(.deadlineExceeded, "request \(id) did not finish within \(timeoutMs) ms")
        _ = await writer.write(WireResponse(id: id, status: status))
      }
      await group.next()
      group.cancelAll()
    }
  }

  /// Responses as frames (length prefixes included), one after the other in one buffer.
  static func frames(_ responses: [WireResponse]) -> ByteBuffer {
    var buffer = ByteBufferAllocator().buffer(capacity: 256 * responses.count)
    for r in responses { WireCodec.encode(r, into: &buffer) }
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
