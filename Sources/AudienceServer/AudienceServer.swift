public import AudienceCore
import AudienceWire
public import Logging
public import ServiceLifecycle
import Synchronization

/// The Audience RPC server: length-prefixed protobuf frames on a Unix domain socket.
///
/// One thread per connection, blocked in `read` between requests (`Connection`); on each
/// connection up to `maxInFlightPerConnection` requests run at once and responses go out as
/// they complete, matched by request id. On graceful shutdown it stops accepting, lets every
/// connection finish the requests in flight, closes them, and removes the socket file.
public final class AudienceServer: Service {
  public let configuration: ServerConfiguration
  public let router: RequestRouter
  let logger: Logger
  let connections: ConnectionRegistry
  /// Bytes of ingest requests held at once, across connections (`maxIngestBytes`).
  let ingestBudget: IngestBudget
  private let bound = Mutex<[CheckedContinuation<Void, Never>]?>([])

  /// - Parameters:
  ///   - configuration: socket and limits.
  ///   - store: where profiles live.
  ///   - normalizer: record validation.
  ///   - logger: where to log.
  public init(
    configuration: ServerConfiguration, store: any ProfileStore, normalizer: RecordNormalizer = RecordNormalizer(),
    logger: Logger
  ) {
    let connections = ConnectionRegistry()
    self.connections = connections
    self.configuration = configuration
    self.ingestBudget = IngestBudget(limit: configuration.maxIngestBytes)
    self.router = RequestRouter(
      store: store, normalizer: normalizer, configuration: configuration, connectionCount: { connections.count })
    self.logger = logger
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
    let listener: Listener
    /// The socket file this server bound, removed at the end only if still there.
    var boundFile: (device: UInt64, inode: UInt64)?
    if let fd = configuration.inheritedSocket {
      // Socket activation: systemd bound the socket (and owns its file).
      UnixSocket.adopt(listening: fd)
      listener = try Listener(fd: fd, logger: logger)
      logger.info(
        "listening on the socket systemd passed", metadata: ["audience.socket": "\(path)", "audience.store": "\(router.store.kind)"])
    } else {
      try SocketFile.prepare(path)
      let fd = try SocketFile.withUmask(for: configuration.socketMode) { () throws(AudienceError) in
        try UnixSocket.listen(path: path, backlog: 256)
      }
      do {
        try SocketFile.setMode(path, configuration.socketMode)
        try SocketFile.setOwner(path, uid: configuration.socketOwner, gid: configuration.socketGroup)
        listener = try Listener(fd: fd, logger: logger)
        boundFile = SocketFile.identity(path)
      } catch {
        // Nobody will accept on it: leave no socket file behind for clients to hang on.
        UnixSocket.close(fd)
        SocketFile.remove(path)
        throw error
      }
      logger.info("listening", metadata: ["audience.socket": "\(path)", "audience.store": "\(router.store.kind)"])
    }
    defer { if configuration.inheritedSocket == nil { SocketFile.remove(path, ifStill: boundFile) } }
    for waiter in bound.withLock({ w -> [CheckedContinuation<Void, Never>] in defer { w = nil }; return w ?? [] }) {
      waiter.resume()
    }
    try await withGracefulShutdownHandler {
      try await withTaskCancellationHandler {
        try await listener.run { fd in self.accepted(fd) }
      } onCancel: {
        listener.stop()
      }
      // Accepting stopped (shutdown, or the task was cancelled): finish what the connections
      // have in flight, then wait until each has closed; past `drainTimeout`, close the rest
      // (a peer that does not read its last responses cannot hold the shutdown).
      self.connections.drainAll()
      let deadline = ContinuousClock.now + self.configuration.drainTimeout
      while self.connections.count > 0, ContinuousClock.now < deadline {
        try? await Task.sleep(for: .milliseconds(50))
      }
      if self.connections.count > 0 {
        self.logger.warning("closing connections still draining", metadata: ["audience.connections": "\(self.connections.count)"])
        self.connections.closeAll()
      }
      await self.connections.waitUntilEmpty()
    } onGracefulShutdown: {
      self.logger.info("shutting down: no new connections, finishing requests in flight")
      listener.stop()
      self.connections.drainAll()
    }
    logger.info("stopped", metadata: ["audience.socket": "\(path)"])
  }
}
