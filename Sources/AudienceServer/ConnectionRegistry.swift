import NIOCore
import Synchronization

/// One connection's in-flight count and drain flag, shared by its reader and its request tasks.
final class ConnectionContext: Sendable {
  let channel: any Channel
  private let state = Mutex<(inFlight: Int, draining: Bool)>((0, false))

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

  /// Stop taking requests; close once the ones in flight are answered.
  func drain() {
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
