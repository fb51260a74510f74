public import AudienceCore
import Dispatch
import NIOPosix
import Synchronization

/// The writer's queue: what callers queue (records, erasures, splits) and the leader's loop that
/// takes it, one thread at a time becoming the leader while there is work (docs/STORAGE.md,
/// "Durability and group commit").
extension EmbeddedStore {
  struct Pending {
    var records: [Record]
    /// `ContentID(of:)` of each record, computed by the caller's thread rather than the writer's.
    var contentIDs: [ContentID]
    /// Each content id's `tableHash`, taken by the caller's thread too (for the leader's claims).
    var claimHashes: [Int]
    /// The records as the database stores them, encoded by the caller's thread too.
    var rows: RecordBatchRows
    /// The hashes of each record's identifier lookups, taken by the caller's thread too.
    var lookups: [IdentityGraph.LookupHashes]
    /// Called with the outcomes of this group and of the groups before it that have no callback
    /// (the other groups of one `queueIngest` call: queued together, so committed together).
    var done: (@Sendable (Result<[IngestOutcome], any Error>) -> Void)?
  }

  struct PendingForget {
    var person: PersonRef
    var continuation: CheckedContinuation<ProfileSummary?, any Error>
  }

  struct PendingSplit {
    var cookie: String
    var continuation: CheckedContinuation<SplitResult?, any Error>
  }

  struct WriterState {
    var pending: [Pending] = []
    var forgets: [PendingForget] = []
    var splits: [PendingSplit] = []
    /// The leader is to try again to empty the log an erasure left (`erasureCheckpointOwed`).
    var retryCheckpoint = false
    var leaderActive = false
    var closed = false
    var idle: [CheckedContinuation<Void, Never>] = []
  }

  public func ingest(_ records: [Record]) async throws -> [IngestOutcome] {
    if records.isEmpty { return [] }
    let ids = records.map(ContentID.init(of:))
    return try await withCheckedThrowingContinuation { c in
      queueIngest(records, contentIDs: ids) { c.resume(with: $0) }
    }
  }

  public func queueIngest(
    groups: consuming [[Record]], contentIDs: [[ContentID]],
    done: @escaping @Sendable (Result<[IngestOutcome], any Error>) -> Void
  ) {
    var groups = consume groups
    // One pending group per non-empty group (an empty call still queues one, so that its
    // callback keeps its place in the order); the last carries the callback.
    var parts: [Pending] = []
    parts.reserveCapacity(groups.count)
    for g in groups.indices where !groups[g].isEmpty {
      // Moved out, so that it is unique: the leader moves each record out of it, which copies
      // them all unless the array is its alone.
      var records: [Record] = []
      swap(&records, &groups[g])
      let rows = RecordBatchRows(&records, contentIDs: contentIDs[g])
      var lookups: [IdentityGraph.LookupHashes] = []
      lookups.reserveCapacity(records.count)
      records.forEachMovedOut { _, r in lookups.append(IdentityGraph.LookupHashes(r)) }
      parts.append(
        Pending(
          records: records, contentIDs: contentIDs[g], claimHashes: contentIDs[g].map(\.tableHash), rows: rows,
          lookups: lookups, done: nil))
    }
    if parts.isEmpty {
      var none: [Record] = []
      parts.append(Pending(records: [], contentIDs: [], claimHashes: [], rows: RecordBatchRows(&none, contentIDs: []), lookups: [], done: nil))
    }
    parts[parts.count - 1].done = done
    let pending = Handoff(parts)
    if !enqueue({ $0.pending.append(contentsOf: pending.take()) }) {
      done(.failure(AudienceError(.unavailable, "the store is shutting down")))
    }
  }

  /// Queues work for the leader and waits for its answer; UNAVAILABLE once the store is closing.
  func submit<T: Sendable>(
    _ add: (inout WriterState, CheckedContinuation<T, any Error>) -> Void
  ) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
      if !enqueue({ add(&$0, continuation) }) {
        continuation.resume(throwing: AudienceError(.unavailable, "the store is shutting down"))
      }
    }
  }

  /// The leader's loop: commit whatever is pending, then run the erasures, until nothing is left.
  fileprivate func lead() {
    // A restore may still be loading the raw records: every write needs them.
    let loading = waitForRecords()
    while true {
      let (batch, forgets, splits, retry) = writer.withLock { state -> ([Pending], [PendingForget], [PendingSplit], Bool) in
        if state.pending.isEmpty && state.forgets.isEmpty && state.splits.isEmpty && !state.retryCheckpoint {
          state.leaderActive = false
          let idle = state.idle
          state.idle = []
          for waiter in idle { waiter.resume() }
          return ([], [], [], false)
        }
        defer {
          state.pending = []
          state.forgets = []
          state.splits = []
          state.retryCheckpoint = false
        }
        return (state.pending, state.forgets, state.splits, state.retryCheckpoint)
      }
      if batch.isEmpty && forgets.isEmpty && splits.isEmpty && !retry { return }
      /// Fails what this pass took (the erasures and splits; the records too when given).
      func refuse(_ error: AudienceError, records: [Pending] = []) {
        for p in records { p.done?(.failure(error)) }
        for f in forgets { f.continuation.resume(throwing: error) }
        for s in splits { s.continuation.resume(throwing: error) }
        if retry { retryCheckpointLater() }
      }
      if let unavailable = loading ?? graphLost.withLock({ $0 }) {
        refuse(unavailable, records: batch)
        continue
      }
      // Records queued before an erasure are committed first, so it erases them too.
      if !batch.isEmpty { commit(consume batch) }
      // That commit may have lost the graph (a failed write, then a failed rebuild): an erasure
      // or a split must not then read it, nor write what it holds to the database.
      if let lost = graphLost.withLock({ $0 }) {
        refuse(lost)
        continue
      }
      let checkpointsBefore = checkpointsTried.load(ordering: .relaxed)
      for f in forgets { erase(f) }
      for s in splits { split(s) }
      // Unless an erasure just tried (a forget of no one, or one that failed, does not).
      if retry, checkpointsTried.load(ordering: .relaxed) == checkpointsBefore, erasureCheckpointOwed.load(ordering: .relaxed) {
        emptyLogAfterErasure()
      }
    }
  }

  /// Has the leader try again, after `checkpointRetryAfter`, to empty the log an erasure left.
  func retryCheckpointLater() {
    guard !checkpointRetryScheduled.exchange(true, ordering: .relaxed) else { return }
    DispatchQueue.global().asyncAfter(deadline: .now() + checkpointRetryAfter) { [weak self] in
      guard let self else { return }
      checkpointRetryScheduled.store(false, ordering: .relaxed)
      _ = enqueue { $0.retryCheckpoint = true }
    }
  }

  /// Enqueues work for the leader (becoming it when there is none); false when closed.
  fileprivate func enqueue(_ add: (inout WriterState) -> Void) -> Bool {
    let lead = writer.withLock { state -> Bool? in
      if state.closed { return nil }
      add(&state)
      if state.leaderActive { return false }
      state.leaderActive = true
      return true
    }
    if lead == true { pool.submit { _ in self.lead() } }
    return lead != nil
  }
}
