/// The bytes of ingest requests (Ingest frames, and the batches of ingest streams) the server
/// holds at once, across connections: taken when a request is read (a frame of 64 KiB or more
/// while it is read, as its bytes arrive: `takeForFrame`), given back once the store has answered
/// it (a frame that is not an ingest, once it is handled). A connection whose ingest does not fit waits before taking more of its
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
    /// Frames of 64 KiB or more being read that hold bytes, in the order they first took some.
    var reading: [UInt64] = []
    /// The part of `held` taken by frames being read.
    var partial = 0
  }
  private let state = Guarded(State())

  init(limit: Int) { self.limit = limit }

  /// Bytes held now.
  var held: Int { state.withLock { $0.held } }

  /// Requests waiting for room now.
  var waiting: Int { state.withLock { $0.waiting.count } }

  /// Takes `bytes`, waiting while they do not fit or an earlier request waits (more than the
  /// budget: until nothing is held but frames being read, which a peer that stops part way
  /// holds until `--frame-timeout`, and every request behind waited as long); false when
  /// `gone()` became true first (the connection closed, or the server is closing it). Called on
  /// a connection's thread.
  /// - Parameters:
  ///   - bytes: the request's frame size.
  ///   - gone: looked at every 50 ms while waiting.
  func take(_ bytes: Int, unless gone: () -> Bool) -> Bool {
    take(bytes, frame: nil, unless: gone)
  }

  /// Names a frame of 64 KiB or more begun (its header read), for `takeForFrame`. It takes its
  /// place among the frames being read with its first bytes: one whose peer sent a header and
  /// stopped is not the frame that may go past the limit (a 1 MB frame waited behind it).
  func beginFrame() -> UInt64 {
    state.withLock { s in
      defer { s.nextTicket += 1 }
      return s.nextTicket
    }
  }

  /// The frame is read, or its connection gone: its `taken` bytes stay held (by its request, or
  /// until given back), and the next frame begun may be the one that goes past the limit.
  func endFrame(_ frame: UInt64, taken: Int) {
    state.update { s in
      s.reading.removeAll { $0 == frame }
      s.partial -= taken
    }
  }

  /// Takes `bytes` for `frame` (read, or about to be), waiting as `take` does, except that when
  /// everything held is frames being read, the one begun first does not wait: they may fill the
  /// budget while each waits for room to finish, and one must finish for room to be made (the
  /// budget is then passed by at most that frame; it is alone when it is larger than the budget).
  /// False when `gone()` became true first.
  func takeForFrame(_ frame: UInt64, _ bytes: Int, unless gone: () -> Bool) -> Bool {
    take(bytes, frame: frame, unless: gone)
  }

  /// Gives back bytes `takeForFrame` took that the frame's read did not use.
  func giveForFrame(_ bytes: Int) {
    state.update { s in
      s.held -= bytes
      s.partial -= bytes
    }
  }

  private func take(_ bytes: Int, frame: UInt64?, unless gone: () -> Bool) -> Bool {
    let limit = self.limit
    let ticket = state.withLock { s -> UInt64 in
      defer { s.nextTicket += 1 }
      s.waiting.append(s.nextTicket)
      return s.nextTicket
    }
    while true {
      let taken = state.wait(
        until: { s in
          (frame != nil && s.reading.first == frame && s.held == s.partial)
            || (s.waiting.first == ticket
              && (s.held == 0 || s.held + bytes <= limit || (frame == nil && bytes > limit && s.held == s.partial)))
        }, milliseconds: 50
      ) { s -> Bool in
        s.waiting.removeAll { $0 == ticket }
        s.held += bytes
        if let frame {
          s.partial += bytes
          if !s.reading.contains(frame) { s.reading.append(frame) }
        }
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
