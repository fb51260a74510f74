import AudienceCore
import Logging
import NIOCore
internal import Glibc

/// One connection's socket descriptor and everything written to it.
///
/// The connection's reader thread writes the responses it answers itself straight to the
/// socket (`sendNow`, a blocking write: a peer that does not read stops the reader, so it stops
/// reading requests). Anyone else (request tasks, ingest committers, watches) queues frames
/// (`send`), written in order by a writer thread started the first time one is needed; their
/// `send` returns once the bytes are written. The reader waits (`waitToRead`) while the queue
/// is past `highWater` or `running` requests are at the limit.
///
/// The descriptor is closed by the last of the reader and the writer thread to stop, never
/// while another may still use it; `close()` only shuts it down, which wakes both.
final class ConnectionSocket: Sendable {
  let fd: Int32
  private let highWater: Int
  /// A write that makes no progress for this long (the peer does not read) fails.
  private let stallLimit: Duration
  private let logger: Logger
  private let closed: @Sendable () -> Void
  private let state: Guarded<State>

  private struct State {
    var queue: [ByteBuffer] = []
    var queuedBytes = 0
    /// Someone is writing to the socket now (the reader, or the writer thread).
    var writing = false
    /// Bytes written or queued so far, and bytes written so far: a `send` returns when
    /// `written` passes where its bytes ended.
    var sent = 0
    var written = 0
    var waiters: [(end: Int, continuation: CheckedContinuation<Bool, Never>)] = []
    /// Shut down: nothing more is written or read.
    var shut = false
    /// Shut down once the queue is written.
    var shutWhenWritten = false
    /// The threads that use the descriptor: the reader, and the writer once started.
    var users = 1
    var writerStarted = false
    var descriptorOpen = true
    /// Requests taken from this connection and not yet answered.
    var running = 0
  }

  /// - Parameters:
  ///   - fd: the accepted socket; this object closes it.
  ///   - highWater: queued bytes past which the reader stops reading.
  ///   - stallLimit: a write that makes no progress for this long fails, and the connection closes.
  ///   - logger: the connection's logger.
  ///   - closed: called once the descriptor is closed.
  init(fd: Int32, highWater: Int, stallLimit: Duration, logger: Logger, closed: @escaping @Sendable () -> Void) {
    self.fd = fd
    self.highWater = highWater
    self.stallLimit = stallLimit
    self.logger = logger
    self.closed = closed
    self.state = Guarded(State())
  }

  private enum Route { case drop, direct, queued(startWriter: Bool) }

  /// Writes `bytes` now, from the reader thread, blocking until the peer takes them; or queues
  /// them behind frames already queued. True when `bytes` was written and may be reused.
  @discardableResult
  func sendNow(_ bytes: ByteBuffer) -> Bool {
    let route = state.update { s -> Route in
      if s.shut { return .drop }
      if !s.writing && s.queue.isEmpty {
        s.sent += bytes.readableBytes
        s.writing = true
        return .direct
      }
      return .queued(startWriter: Self.enqueue(bytes, waiter: nil, &s))
    }
    switch route {
    case .drop:
      return false
    case .queued(let startWriter):
      if startWriter { startWriterThread() }
      return false
    case .direct:
      let ok = write(bytes)
      let resumed = state.update { s -> [CheckedContinuation<Bool, Never>] in
        s.writing = false
        s.written += bytes.readableBytes
        if !ok || (s.shutWhenWritten && s.queue.isEmpty) { return self.shutDown(&s) }
        return []
      }
      for c in resumed { c.resume(returning: false) }
      return ok
    }
  }

  /// Queues `bytes` to be written after everything before them; returns true once they are
  /// written, false if the connection closed first. Never blocks a thread.
  func send(_ bytes: ByteBuffer) async -> Bool {
    await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
      if !queue(bytes, waiter: c) { c.resume(returning: false) }
    }
  }

  /// Queues `bytes` to be written after everything before them, without waiting for the write.
  func post(_ bytes: ByteBuffer) { _ = queue(bytes, waiter: nil) }

  /// Queues `bytes` (and who waits for them); false when the socket is shut down.
  private func queue(_ bytes: ByteBuffer, waiter: CheckedContinuation<Bool, Never>?) -> Bool {
    let startWriter = state.update { s -> Bool? in
      s.shut ? nil : Self.enqueue(bytes, waiter: waiter, &s)
    }
    if startWriter == true { startWriterThread() }
    return startWriter != nil
  }

  /// Appends to the queue; true when the writer thread must be started.
  private static func enqueue(_ bytes: ByteBuffer, waiter: CheckedContinuation<Bool, Never>?, _ s: inout State) -> Bool {
    s.sent += bytes.readableBytes
    s.queue.append(bytes)
    s.queuedBytes += bytes.readableBytes
    if let waiter { s.waiters.append((s.sent, waiter)) }
    guard !s.writerStarted else { return false }
    s.writerStarted = true
    s.users += 1
    return true
  }

  private func startWriterThread() {
    do {
      try Threads.start(name: "audience-write", stackBytes: 256 << 10) { self.writeQueued() }
    } catch {
      logger.error("closing connection: \(error.message)")
      close()
      stopped()  // the writer thread counted as a user: it will never stop on its own
    }
  }

  /// The writer thread: writes the queue in order until the connection is shut down.
  private func writeQueued() {
    while true {
      let batch = state.wait(until: { $0.shut || (!$0.writing && !$0.queue.isEmpty) }) { s -> [ByteBuffer]? in
        if s.shut { return nil }
        s.writing = true
        defer { s.queue = [] }
        return s.queue
      }
      guard let batch else { break }
      var ok = true
      var bytes = 0
      for b in batch where ok {
        ok = write(b)
        // Only what was written counts: a sender whose bytes failed is told false below.
        if ok { bytes += b.readableBytes }
      }
      var resumed: [(CheckedContinuation<Bool, Never>, Bool)] = []
      state.update { s in
        s.writing = false
        s.queuedBytes = max(0, s.queuedBytes - bytes)
        s.written += bytes
        let done = s.waiters.prefix { $0.end <= s.written }
        resumed = done.map { ($0.continuation, true) }
        s.waiters.removeFirst(done.count)
        if !ok || (s.shutWhenWritten && s.queue.isEmpty) {
          resumed += shutDown(&s).map { ($0, false) }
        }
      }
      for (c, result) in resumed { c.resume(returning: result) }
    }
    stopped()
  }

  /// Writes `bytes` to the socket (the caller holds `writing`); false when they could not be.
  private func write(_ bytes: ByteBuffer) -> Bool {
    switch UnixSocket.send(fd, bytes, stallLimit: stallLimit) {
    case .written:
      return true
    case .stalled:
      logger.info(
        "closing the connection: the peer took none of its responses for \(stallLimit)",
        metadata: ["audience.unwritten_bytes": "\(bytes.readableBytes)"])
      return false
    case .broken:
      return false
    }
  }

  /// Shuts the socket down (both directions): a blocked read or write returns, queued frames
  /// are dropped and their senders told false. The descriptor stays open until its threads stop.
  func close() {
    let resumed = state.update { s in shutDown(&s) }
    for c in resumed { c.resume(returning: false) }
  }

  /// Shuts the socket down once the frames queued so far are written (at once if none are).
  func closeWhenWritten() {
    let resumed = state.update { s -> [CheckedContinuation<Bool, Never>] in
      if s.queue.isEmpty && !s.writing { return shutDown(&s) }
      s.shutWhenWritten = true
      return []
    }
    for c in resumed { c.resume(returning: false) }
  }

  private func shutDown(_ s: inout State) -> [CheckedContinuation<Bool, Never>] {
    guard !s.shut else { return [] }
    s.shut = true
    if s.descriptorOpen { _ = shutdown(fd, Int32(SHUT_RDWR)) }
    s.queue = []
    s.queuedBytes = 0
    defer { s.waiters = [] }
    return s.waiters.map(\.continuation)
  }

  /// The reader thread stopped using the socket.
  func readerStopped() { stopped() }

  private func stopped() {
    let last = state.update { s -> Bool in
      s.users -= 1
      guard s.users == 0 else { return false }
      s.descriptorOpen = false
      Glibc.close(fd)
      return true
    }
    if last { closed() }
  }

  /// Blocks the reader until it may read more: fewer than `maxRunning` requests running and
  /// the queue below the high-water mark. False once the connection is shut down.
  func waitToRead(maxRunning: Int) -> Bool {
    state.wait(until: { $0.shut || ($0.running < maxRunning && $0.queuedBytes <= highWater) }) { !$0.shut }
  }

  /// Why the reader may not read yet (`waitToRead(maxRunning:milliseconds:)`).
  enum ReadWait { case mayRead, shut, peerNotReading, requestsRunning }

  /// `waitToRead` for at most `milliseconds`; when the time passed, whether the peer holds the
  /// reader (it does not take its responses) or the server does (its requests are running).
  func waitToRead(maxRunning: Int, milliseconds: Int) -> ReadWait {
    let waited = state.wait(until: { $0.shut || ($0.running < maxRunning && $0.queuedBytes <= highWater) }, milliseconds: milliseconds) {
      !$0.shut
    }
    if let waited { return waited ? .mayRead : .shut }
    return state.withLock { $0.queuedBytes > highWater ? .peerNotReading : .requestsRunning }
  }

  /// Blocks the reader while the queue is past the high-water mark. False once shut down.
  func waitForRoom() -> Bool {
    state.wait(until: { $0.shut || $0.queuedBytes <= highWater }) { !$0.shut }
  }

  /// Blocks the reader until no request taken is running (their responses queued), or the
  /// connection is shut down.
  func waitUntilIdle() { state.wait(until: { $0.shut || $0.running == 0 }) { _ in } }

  /// A request was taken to run off the reader thread.
  func began() { state.withLock { $0.running += 1 } }

  /// `count` requests taken earlier were answered.
  func finished(_ count: Int = 1) { state.update { $0.running -= count } }

  var running: Int { state.withLock { $0.running } }

  /// Whether the connection was shut down (closed by either side, or by the server).
  var isShut: Bool { state.withLock { $0.shut } }
}
