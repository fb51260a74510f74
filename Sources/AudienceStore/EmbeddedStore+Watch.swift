public import AudienceCore
import Synchronization

/// Live segments: a watch's membership is updated under the graph lock with every commit,
/// erasure and split, and its changes go to its stream.
extension EmbeddedStore {
  /// Gives every watcher the changes `changes` computes from its membership (updating it).
  /// Called under the graph lock. Returns the watchers that fell behind, to be ended by
  /// `endBehind` once the locks are released.
  func notifyWatchers(_ changes: (inout SegmentMembership) -> [SegmentChange])
    -> [AsyncThrowingStream<SegmentChange, any Error>.Continuation]
  {
    watchers.withLock { table in
      var behind: [AsyncThrowingStream<SegmentChange, any Error>.Continuation] = []
      for id in Array(table.live.keys) {
        let continuation = table.live[id]!.continuation
        for change in changes(&table.live[id]!.membership) {
          if case .dropped = continuation.yield(change) {
            table.live[id] = nil
            behind.append(continuation)
            break
          }
        }
      }
      return behind
    }
  }

  func endBehind(_ behind: [AsyncThrowingStream<SegmentChange, any Error>.Continuation]) {
    for continuation in behind {
      continuation.finish(
        throwing: AudienceError(
          .resourceExhausted, "the watch fell more than \(Self.watchBufferLimit) changes behind; it was ended"))
    }
  }

  public func watch(_ filter: Filter?, categories: InterestCategories) async throws -> SegmentWatch {
    let (stream, continuation) = AsyncThrowingStream.makeStream(
      of: SegmentChange.self, bufferingPolicy: .bufferingOldest(Self.watchBufferLimit))
    let opened = try withLiveGraph { g -> (id: Int, total: Int)? in
      let membership = SegmentMembership(filter, categories: categories, in: g)
      return watchers.withLock { table in
        if table.closed { return nil }
        table.next += 1
        table.live[table.next] = WatcherTable.Watcher(membership: membership, continuation: continuation)
        return (table.next, membership.count)
      }
    }
    guard let opened else { throw AudienceError(.unavailable, "the store is shutting down") }
    continuation.onTermination = { [weak self] _ in
      _ = self?.watchers.withLock { $0.live.removeValue(forKey: opened.id) }
    }
    return SegmentWatch(total: opened.total, changes: stream, stop: { continuation.finish() })
  }
}
