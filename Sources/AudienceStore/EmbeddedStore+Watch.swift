public import AudienceCore
import Synchronization

/// Live segments: a watch's membership is updated under the graph lock with every commit,
/// erasure and split, and its changes go to its queue (WatchQueue.swift); a watch whose reader
/// falls `watchBufferLimit` changes behind remembers which profiles changed instead, and sends
/// them as its reader catches up (SegmentMembership+Backlog.swift).
extension EmbeddedStore {
  /// Changes drained from a watch's backlog at a time, under the graph lock.
  static let watchDrainBatch = 1_000

  /// Gives every watcher the changes `changes` computes from its membership (updating it).
  /// Called under the graph lock.
  func notifyWatchers(_ changes: (inout SegmentMembership) -> [SegmentChange]) {
    watchers.withLock { table in
      for id in Array(table.live.keys) {
        let queue = table.live[id]!.queue
        let found = changes(&table.live[id]!.membership)
        if !queue.push(found, limit: Self.watchBufferLimit) {
          table.live[id]!.membership.fallBehind(with: found)
        }
        if table.live[id]!.membership.isBehind { queue.behind() }
      }
    }
  }

  /// Drains some of a watch's backlog into its queue (on its reader's task).
  private func refill(_ id: Int, _ queue: WatchQueue) {
    withGraph(settling: false) { g in
      watchers.withLock { table in
        guard table.live[id] != nil else { return }
        let changes = table.live[id]!.membership.drain(upTo: Self.watchDrainBatch, in: g)
        _ = queue.push(changes, limit: .max)
        if table.live[id]!.membership.isBehind { queue.behind() }
      }
    }
  }

  public func watch(_ filter: Filter?, categories: InterestCategories) async throws -> SegmentWatch {
    let queue = WatchQueue()
    let opened = try withLiveGraph { g -> (id: Int, total: Int)? in
      let membership = SegmentMembership(filter, categories: categories, in: g)
      return watchers.withLock { table in
        if table.closed { return nil }
        table.next += 1
        table.live[table.next] = WatcherTable.Watcher(membership: membership, queue: queue)
        return (table.next, membership.count)
      }
    }
    guard let opened else { throw AudienceError(.unavailable, "the store is shutting down") }
    let end: @Sendable () -> Void = { [weak self] in
      _ = self?.watchers.withLock { $0.live.removeValue(forKey: opened.id) }
    }
    // Ends the watch when its stream is let go of without `stop()` (a library caller that
    // dropped it, or a reader cancelled between two events): the store updated it with every
    // commit for as long as the store lived.
    let release = WatchRelease(end)
    let changes = AsyncThrowingStream<SegmentChange, any Error> { [weak self] in
      withExtendedLifetime(release) {}
      do {
        guard let change = try await queue.next(refill: { self?.refill(opened.id, queue) }) else {
          end()
          return nil
        }
        return change
      } catch {
        end()
        throw error
      }
    }
    return SegmentWatch(
      total: opened.total, changes: changes,
      stop: {
        end()
        queue.finish()
      })
  }
}

/// Calls `end` when the last reference to it goes (see `EmbeddedStore.watch`).
final class WatchRelease: Sendable {
  private let end: @Sendable () -> Void
  init(_ end: @escaping @Sendable () -> Void) { self.end = end }
  deinit { end() }
}
