/// The bytes of ingest requests (Ingest frames, and the batches of ingest streams) the server
/// holds at once, across connections: taken when a request is read, given back once the store
/// has answered it. A connection whose ingest does not fit waits before taking more of its
/// requests (its reader stops; nothing is refused), so that many connections pipelining large
/// batches cannot grow the server's memory without bound: each connection's own limits
/// (`maxInFlightPerConnection`, a stream's window) bound one connection, not a thousand.
///
/// Requests are let in first come, first served: one waits behind those that came before it,
/// so a large one is not starved by small ones filling the room as it frees (a frame at three
/// quarters of the budget waited for as long as others kept sending). A request is always let
/// in when nothing else is held, so a frame larger than the budget still goes through, alone.
final class IngestBudget: Sendable {
  /// Bytes held at most (but one request past it when it is alone).
  let limit: Int
  private struct State {
    var held = 0
    var nextTicket: UInt64 = 0
    /// The tickets of the requests waiting, oldest first.
    var waiting: [UInt64] = []
  }
  private let state = Guarded(State())

  init(limit: Int) { self.limit = limit }

  /// Bytes held now.
  var held: Int { state.withLock { $0.held } }

  /// Requests waiting for room now.
  var waiting: Int { state.withLock { $0.waiting.count } }

  /// Takes `bytes`, waiting while they do not fit or an earlier request waits; false when
  /// `gone()` became true first (the connection closed, or the server is closing it). Called on
  /// a connection's thread.
  /// - Parameters:
  ///   - bytes: the request's frame size.
  ///   - gone: looked at every 50 ms while waiting.
  func take(_ bytes: Int, unless gone: () -> Bool) -> Bool {
    let limit = self.limit
    let ticket = state.withLock { s -> UInt64 in
      defer { s.nextTicket += 1 }
      s.waiting.append(s.nextTicket)
      return s.nextTicket
    }
    while true {
      let taken = state.wait(
        until: { $0.waiting.first == ticket && ($0.held == 0 || $0.held + bytes <= limit) }, milliseconds: 50
      ) { s -> Bool in
        s.waiting.removeFirst()
        s.held += bytes
        return true
      }
      if taken != nil { return true }
      if gone() {
        // Those behind it move up.
        state.update { s in s.waiting.removeAll { $0 == ticket } }
        return false
      }
    }
  }

  /// Gives back what `take` took, once the store has answered the request.
  func give(_ bytes: Int) {
    state.update { $0.held -= bytes }
  }
}
