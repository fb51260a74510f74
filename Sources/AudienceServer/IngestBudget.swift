/// The bytes of ingest requests (Ingest frames, and the batches of ingest streams) the server
/// holds at once, across connections: taken when a request is read, given back once the store
/// has answered it. A connection whose ingest does not fit waits before taking more of its
/// requests (its reader stops; nothing is refused), so that many connections pipelining large
/// batches cannot grow the server's memory without bound: each connection's own limits
/// (`maxInFlightPerConnection`, a stream's window) bound one connection, not a thousand.
///
/// A request is always let in when nothing else is held, so a frame larger than the budget
/// still goes through, alone.
final class IngestBudget: Sendable {
  /// Bytes held at most (but one request past it when it is alone).
  let limit: Int
  private let state = Guarded(0)

  init(limit: Int) { self.limit = limit }

  /// Bytes held now.
  var held: Int { state.withLock { $0 } }

  /// Takes `bytes`, waiting while they do not fit; false when `gone()` became true first (the
  /// connection closed, or the server is closing it). Called on a connection's thread.
  /// - Parameters:
  ///   - bytes: the request's frame size.
  ///   - gone: looked at every 50 ms while waiting.
  func take(_ bytes: Int, unless gone: () -> Bool) -> Bool {
    let limit = self.limit
    while true {
      let taken = state.wait(until: { $0 == 0 || $0 + bytes <= limit }, milliseconds: 50) { held -> Bool in
        held += bytes
        return true
      }
      if taken != nil { return true }
      if gone() { return false }
    }
  }

  /// Gives back what `take` took, once the store has answered the request.
  func give(_ bytes: Int) {
    state.update { $0 -= bytes }
  }
}
