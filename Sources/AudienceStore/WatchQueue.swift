import AudienceCore
import Synchronization

/// The changes of one watch waiting for its reader, and the reader waiting for them.
///
/// Commits queue changes under the graph lock (`push`) until `EmbeddedStore.watchBufferLimit`
/// wait unread; past that the watch's membership remembers which profiles changed instead
/// (SegmentMembership+Backlog.swift) and the queue is only told there is more (`behind`): once
/// the reader has read what is queued, `next` asks the store to drain some of the backlog.
final class WatchQueue: Sendable {
  private enum End {
    case stopped
    case failed(any Error)
  }

  private struct State {
    var changes: [SegmentChange] = []
    /// Changes before this one were read (kept until there are enough to remove at once).
    var head = 0
    var waiter: CheckedContinuation<Void, Never>?
    /// The membership has a backlog to drain once the queue is read.
    var behind = false
    var end: End?
    var cancelled = false

    var waiting: Int { changes.count - head }
  }

  private let state = Mutex(State())

  /// Changes the state under the lock, then wakes the reader if it waits (a reader woken with
  /// nothing new looks and waits again).
  private func waking<T>(_ change: (inout State) -> T) -> T {
    let (result, waiter) = state.withLock { s in (change(&s), s.waiter.take()) }
    waiter?.resume()
    return result
  }

  /// Queues `changes`, unless that would leave more than `limit` unread: false then, and nothing
  /// is queued.
  func push(_ changes: [SegmentChange], limit: Int) -> Bool {
    if changes.isEmpty { return true }
    return waking { s in
      if s.end != nil { return true }
      if s.waiting + changes.count > limit { return false }
      s.changes.append(contentsOf: changes)
      return true
    }
  }

  /// The membership has remembered changes (or has more of them): the reader asks for them once
  /// it has read the queue.
  func behind() { waking { $0.behind = true } }

  /// Ends the queue: the reader gets what is queued, then the end (`error`, or nil for a plain one).
  func finish(throwing error: (any Error)? = nil) {
    waking { s in if s.end == nil { s.end = error.map(End.failed) ?? .stopped } }
  }

  /// The next change; nil once the queue ended (or the reading task was cancelled).
  /// - Parameters:
  ///   - refill: drains some of the membership's backlog into the queue (`push`, then `behind`
  ///     again if some is left); called when the queue is empty and `behind` was said.
  func next(refill: () -> Void) async throws -> SegmentChange? {
    enum Step {
      case change(SegmentChange)
      case finished
      case failed(any Error)
      case refill
      case wait
    }
    while true {
      let step = state.withLock { s -> Step in
        if s.cancelled { return .finished }
        if s.head < s.changes.count {
          let change = s.changes[s.head]
          s.head += 1
          if s.head == s.changes.count {
            s.changes.removeAll(keepingCapacity: s.changes.capacity <= 4096)
            s.head = 0
          } else if s.head >= 1024, s.head * 2 >= s.changes.count {
            s.changes.removeFirst(s.head)
            s.head = 0
          }
          return .change(change)
        }
        switch s.end {
        case .failed(let error)?:
          s.end = .stopped  // thrown once
          return .failed(error)
        case .stopped?:
          return .finished
        case nil:
          break
        }
        if s.behind {
          s.behind = false
          return .refill
        }
        return .wait
      }
      switch step {
      case .change(let change): return change
      case .finished: return nil
      case .failed(let error): throw error
      case .refill: refill()
      case .wait: await waitForMore()
      }
    }
  }

  private func waitForMore() async {
    await withTaskCancellationHandler {
      await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
        let now = state.withLock { s -> Bool in
          if s.cancelled || s.waiting > 0 || s.end != nil || s.behind { return true }
          s.waiter = c
          return false
        }
        if now { c.resume() }
      }
    } onCancel: {
      waking { $0.cancelled = true }
    }
  }
}
