import AudienceCore
import AudienceWire
import Synchronization

/// One connection's in-flight count, drain flag and open watches, shared by its reader and
/// its request tasks.
final class ConnectionContext: Sendable {
  let socket: ConnectionSocket
  private let state = Mutex<(inFlight: Int, draining: Bool)>((0, false))
  /// A watch's place, taken by the reading thread when it reads the Watch request, so that a
  /// Cancel read right behind it finds it while the watch is still being opened on its task.
  private enum WatchSlot {
    case opening(cancelled: Bool)
    case open(SegmentWatch)
  }
  private let watches = Mutex<[UInt64: WatchSlot]>([:])

  init(socket: ConnectionSocket) { self.socket = socket }


  func begin() { state.withLock { $0.inFlight += 1 } }

  /// Begins work unless the connection is draining: the reading thread holds one of these over
  /// each read burst, so a drain either waits for the burst (and the tasks it starts) or comes
  /// before it, never between reading a request and starting it.
  func tryBegin() -> Bool {
    state.withLock { s in
      guard !s.draining else { return false }
      s.inFlight += 1
      return true
    }
  }

  /// A request finished and its response was written or queued; closes the connection, once what
  /// is queued is written, when draining is complete.
  func end() {
    let close = state.withLock { s -> Bool in
      s.inFlight -= 1
      return s.draining && s.inFlight == 0
    }
    if close { closeDrained() }
  }

  /// Says why the connection closes (an id-0 UNAVAILABLE, as the idle timeout does), then
  /// closes it once what is queued is written. An idle connection was closed without a frame,
  /// and its next request met a broken pipe.
  private func closeDrained() {
    // Once: a watch or committer beginning and ending after the drain reached zero ends again.
    guard !toldClosing.exchange(true, ordering: .relaxed) else { return }
    socket.post(AudienceServer.frames([WireResponse(id: 0, status: WireStatus(.unavailable, "the server is shutting down; closing"))]))
    socket.closeWhenWritten()
  }
  private let toldClosing = Atomic<Bool>(false)

  var watchCount: Int { watches.withLock { $0.count } }

  enum ReserveWatch { case reserved, duplicateID, tooMany }

  /// Whether a watch holds this request id.
  func isWatching(_ id: UInt64) -> Bool { watches.withLock { $0[id] != nil } }

  /// Takes a place for a watch under its request id (on the reading thread, before the watch is
  /// opened), unless the id is already watching or the connection already has `limit` watches.
  func reserveWatch(_ id: UInt64, limit: Int) -> ReserveWatch {
    watches.withLock { w in
      if w[id] != nil { return .duplicateID }
      if w.count >= limit { return .tooMany }
      w[id] = .opening(cancelled: false)
      return .reserved
    }
  }

  /// Puts the opened watch in its place; false when it was cancelled meanwhile (the caller ends
  /// it; the place stays until `removeWatch`).
  func attachWatch(_ id: UInt64, _ watch: SegmentWatch) -> Bool {
    watches.withLock { w in
      guard case .opening(cancelled: false)? = w[id] else { return false }
      w[id] = .open(watch)
      return true
    }
  }

  func removeWatch(_ id: UInt64) { _ = watches.withLock { $0.removeValue(forKey: id) } }

  /// Ends the watch with this request id (one still opening ends as soon as it is open); false
  /// when there is none.
  func stopWatch(_ id: UInt64) -> Bool {
    let slot = watches.withLock { w -> WatchSlot? in
      guard let slot = w[id] else { return nil }
      if case .opening = slot { w[id] = .opening(cancelled: true) }
      return slot
    }
    switch slot {
    case nil: return false
    case .opening?: return true
    case .open(let watch)?:
      watch.stop()
      return true
    }
  }

  /// Ends every watch (the peer left, or the server is draining).
  func stopAllWatches() {
    let open = watches.withLock { w -> [SegmentWatch] in
      var open: [SegmentWatch] = []
      for (id, slot) in w {
        switch slot {
        case .opening: w[id] = .opening(cancelled: true)
        case .open(let watch): open.append(watch)
        }
      }
      return open
    }
    for watch in open { watch.stop() }
  }

  /// Stop taking requests; end the watches; close once the requests in flight are answered and
  /// their responses written.
  func drain() {
    stopAllWatches()
    let close = state.withLock { s -> Bool in
      s.draining = true
      return s.inFlight == 0
    }
    if close { closeDrained() }
  }
}

/// The live connections, for the connection limit, Health, and draining at shutdown.
final class ConnectionRegistry: Sendable {
  private struct State {
    var next = 0
    var live: [Int: ConnectionContext] = [:]
    var draining = false
    var emptyWaiters: [CheckedContinuation<Void, Never>] = []
  }

  private let state = Mutex(State())

  var count: Int { state.withLock { $0.live.count } }

  /// A new connection's id.
  func nextID() -> Int {
    state.withLock { s in
      s.next += 1
      return s.next
    }
  }

  /// Adds a connection; it is drained at once when shutdown already began.
  func register(_ id: Int, _ context: ConnectionContext) {
    let draining = state.withLock { s in
      s.live[id] = context
      return s.draining
    }
    if draining { context.drain() }
  }

  /// A connection's socket is closed.
  func remove(_ id: Int) {
    let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
      s.live.removeValue(forKey: id)
      guard s.live.isEmpty else { return [] }
      defer { s.emptyWaiters = [] }
      return s.emptyWaiters
    }
    for w in waiters { w.resume() }
  }

  /// Returns once no connection is left.
  func waitUntilEmpty() async {
    await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
      let now = state.withLock { s -> Bool in
        guard !s.live.isEmpty else { return true }
        s.emptyWaiters.append(c)
        return false
      }
      if now { c.resume() }
    }
  }

  /// Closes every connection now (shutdown has waited long enough for them to drain).
  func closeAll() {
    for c in state.withLock({ Array($0.live.values) }) { c.socket.close() }
  }

  func drainAll() {
    let all = state.withLock { s -> [ConnectionContext] in
      s.draining = true
      return Array(s.live.values)
    }
    for c in all { c.drain() }
  }
}
