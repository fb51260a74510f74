import AudienceCore
import NIOCore
import Synchronization

/// One connection's in-flight count, drain flag and open watches, shared by its reader and
/// its request tasks.
final class ConnectionContext: Sendable {
  let channel: any Channel
  private let state = Mutex<(inFlight: Int, draining: Bool)>((0, false))
  private let watches = Mutex<[UInt64: SegmentWatch]>([:])

  init(channel: any Channel) { self.channel = channel }

  var isDraining: Bool { state.withLock { $0.draining } }

  func begin() { state.withLock { $0.inFlight += 1 } }

  /// A request finished and its response was written; closes the connection when draining is complete.
  func end() {
    let close = state.withLock { s -> Bool in
      s.inFlight -= 1
      return s.draining && s.inFlight == 0
    }
    if close { channel.close(promise: nil) }
  }

  var watchCount: Int { watches.withLock { $0.count } }

  enum AddWatch { case added, duplicateID, tooMany }

  /// Records an open watch under its request id, unless the id is already watching or the
  /// connection already has `limit` watches.
  func addWatch(_ id: UInt64, _ watch: SegmentWatch, limit: Int) -> AddWatch {
    watches.withLock { w in
      if w[id] != nil { return .duplicateID }
      if w.count >= limit { return .tooMany }
      w[id] = watch
      return .added
    }
  }

  func removeWatch(_ id: UInt64) { _ = watches.withLock { $0.removeValue(forKey: id) } }

  /// Ends the watch with this request id; false when there is none.
  func stopWatch(_ id: UInt64) -> Bool {
    guard let watch = watches.withLock({ $0[id] }) else { return false }
    watch.stop()
    return true
  }

  /// Ends every watch (the peer left, or the server is draining).
  func stopAllWatches() {
    for watch in watches.withLock({ Array($0.values) }) { watch.stop() }
  }

  /// Stop taking requests; end the watches; close once the requests in flight are answered.
  func drain() {
    stopAllWatches()
    let close = state.withLock { s -> Bool in
      s.draining = true
      return s.inFlight == 0
    }
    if close { channel.close(promise: nil) }
  }
}

/// The live connections, for the connection limit, Health, and draining at shutdown.
final class ConnectionRegistry: Sendable {
  private let state = Mutex<(next: Int, live: [Int: ConnectionContext], draining: Bool)>((0, [:], false))

  var count: Int { state.withLock { $0.live.count } }

  /// Adds a connection; it is drained at once when shutdown already began.
  func register(_ context: ConnectionContext) -> Int {
    let (id, draining) = state.withLock { s -> (Int, Bool) in
      s.next += 1
      s.live[s.next] = context
      return (s.next, s.draining)
    }
    if draining { context.drain() }
    return id
  }

  func remove(_ id: Int) { _ = state.withLock { $0.live.removeValue(forKey: id) } }

  func drainAll() {
    let all = state.withLock { s -> [ConnectionContext] in
      s.draining = true
      return Array(s.live.values)
    }
    for c in all { c.drain() }
  }
}
