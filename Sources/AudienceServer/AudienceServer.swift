public import AudienceCore
import AudienceWire
public import Logging
public import NIOCore
public import NIOPosix
public import ServiceLifecycle
import Synchronization

/// The Audience RPC server: length-prefixed protobuf frames on a Unix domain socket.
///
/// One child task per connection; on each connection up to `maxInFlightPerConnection`
/// requests run at once and responses go out as they complete, matched by request id.
/// On graceful shutdown it stops accepting, lets every connection finish the requests
/// in flight, closes them, and removes the socket file.
public final class AudienceServer: Service {
  public let configuration: ServerConfiguration
  public let router: RequestRouter
  let logger: Logger
  let eventLoopGroup: any EventLoopGroup
  let connections: ConnectionRegistry
  private let bound = Mutex<[CheckedContinuation<Void, Never>]?>([])

  /// - Parameters:
  ///   - configuration: socket and limits.
  ///   - store: where profiles live.
  ///   - normalizer: record validation.
  ///   - logger: where to log.
  ///   - eventLoopGroup: the NIO threads.
  public init(
    configuration: ServerConfiguration, store: any ProfileStore, normalizer: RecordNormalizer = RecordNormalizer(),
    logger: Logger, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
  ) {
    let connections = ConnectionRegistry()
    self.connections = connections
    self.configuration = configuration
    self.router = RequestRouter(
      store: store, normalizer: normalizer, configuration: configuration, connectionCount: { connections.count })
    self.logger = logger
    self.eventLoopGroup = eventLoopGroup
  }

  /// Returns once the socket is bound and accepting.
  public func waitUntilListening() async {
    await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
      let now = bound.withLock { waiters -> Bool in
        guard waiters != nil else { return true }
        waiters!.append(c)
        return false
      }
      if now { c.resume() }
    }
  }

  public func run() async throws {
    let path = configuration.socketPath
    let bootstrap = ServerBootstrap(group: eventLoopGroup)
      .serverChannelOption(.backlog, value: 256)
      // A page of 10,000 users is about 1.3 MB: with the default send buffer (208 KiB) it
      // crosses the socket in seven fills, each a round of wake-ups between the two processes.
      // The kernel caps this at net.core.wmem_max; it bounds what is queued, it is not allocated.
      .childChannelOption(.socketOption(.so_sndbuf), value: 4 << 20)
      .childChannelOption(
        .writeBufferWaterMark,
        value: ChannelOptions.Types.WriteBufferWaterMark(
          low: configuration.maxBufferedBytes / 2, high: configuration.maxBufferedBytes))
    let accept: @Sendable (any Channel) -> EventLoopFuture<any Channel> = { channel in
      self.checkPeer(channel).flatMapThrowing { refusal in
        if let refusal { try self.refuse(channel, refusal) } else { try self.setUpConnection(channel) }
        return channel
      }
    }
    let serverChannel: NIOAsyncChannel<any Channel, Never>
    if let fd = configuration.inheritedSocket {
      // Socket activation: systemd bound the socket (and owns its file).
      serverChannel = try await bootstrap.bind(fd, childChannelInitializer: accept)
      logger.info(
        "listening on the socket systemd passed", metadata: ["audience.socket": "\(path)", "audience.store": "\(router.store.kind)"])
    } else {
      try SocketFile.prepare(path)
      serverChannel = try await SocketFile.withUmask(for: configuration.socketMode) {
        try await bootstrap.bind(unixDomainSocketPath: path, childChannelInitializer: accept)
      }
      try SocketFile.setMode(path, configuration.socketMode)
      try SocketFile.setOwner(path, uid: configuration.socketOwner, gid: configuration.socketGroup)
      logger.info("listening", metadata: ["audience.socket": "\(path)", "audience.store": "\(router.store.kind)"])
    }
    defer { if configuration.inheritedSocket == nil { SocketFile.remove(path) } }
    for waiter in bound.withLock({ w -> [CheckedContinuation<Void, Never>] in defer { w = nil }; return w ?? [] }) {
      waiter.resume()
    }
    try await withGracefulShutdownHandler {
      try await withThrowingDiscardingTaskGroup { group in
        try await serverChannel.executeThenClose { inbound in
          for try await connection in inbound {
            // Each connection is served by its ConnectionHandler; the group waits for it to close.
            group.addTask { try? await connection.closeFuture.get() }
          }
        }
      }
    } onGracefulShutdown: {
      self.logger.info("shutting down: no new connections, finishing requests in flight")
      serverChannel.channel.close(promise: nil)
      self.connections.drainAll()
    }
    logger.info("stopped", metadata: ["audience.socket": "\(path)"])
  }
}
