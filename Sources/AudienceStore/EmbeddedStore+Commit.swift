import AudienceCore
import Dispatch
import Logging
import NIOPosix
import Synchronization

/// A commit: what the leader does with the groups queued for it. Under the graph lock the
/// leader decides what is new and applies it to the graph, while the `durable` thread writes the
/// records and, for a large commit, the `indexer` thread keeps the segment index up to date
/// (docs/STORAGE.md, "Durability and group commit").
extension EmbeddedStore {
  /// Where a record to store is: its group and place in the group, and the sequence number
  /// and time (for a record sent without one) the commit gave it.
  struct RowRef {
    var group: Int
    var record: Int
    var seq: UInt64
    var assignedTime: Timestamp?
  }

  /// Commits of at least this many records keep their index up to date on the `indexer` thread.
  static let indexElsewhereFrom = 256
  /// Records applied between two hand-overs of index changes to the `indexer`.
  static let indexSlice = 128
  /// How many claims, or records applied, ahead of its own the leader starts fetching what one
  /// looks up: enough to cover a cache miss with the work between.
  static let lookAhead = 8

  /// The segment index while it is detached from the graph and kept up to date on the `indexer`
  /// thread (only there until `settleIndex` has waited for the thread to catch up).
  final class IndexHandoff: @unchecked Sendable {
    var index: DetachedIndex
    /// Signalled by the `indexer` once it has applied the changes of the last commit handed
    /// over (read and written by the leader only).
    var lastCommitApplied: DispatchSemaphore?

    init(_ index: DetachedIndex) { self.index = index }
  }

  /// Runs `body` on the graph with its segment index up to date: what queries, watches,
  /// erasures, splits and snapshots use. A commit leaves the index detached and the `indexer`
  /// thread catching up (`indexBehind`), so that the next commit need not wait for it; this
  /// waits for it.
  /// - Parameters:
  ///   - settling: false for a read that never touches the segment index (a profile by cookie,
  ///     an export, the counts): it does not wait.
  func withGraph<T, E: Error>(settling: Bool = true, _ body: (inout IdentityGraph) throws(E) -> T) throws(E) -> T {
    try graph.withLock { (g: inout IdentityGraph) throws(E) -> T in
      if settling { settleIndex(&g) }
      return try body(&g)
    }
  }

  /// `withGraph` for what answers a client (reads, export, history, watches): refused once a
  /// failed write left a graph the database cannot rebuild (`graphLost`), which may show records
  /// that were never stored.
  func withLiveGraph<T>(settling: Bool = true, _ body: (inout IdentityGraph) throws(AudienceError) -> T) throws(AudienceError) -> T {
    try withGraph(settling: settling) { g throws(AudienceError) -> T in
      if let lost = graphLost.withLock({ $0 }) { throw lost }
      return try body(&g)
    }
  }

  /// `withLiveGraph` for a read that only looks: it shares the lock with other such reads
  /// (`GraphLock`). One that needs the segment index while the `indexer` thread is behind (during
  /// and just after a bulk load) takes the lock alone to settle it first, as before.
  func readLiveGraph<T>(settling: Bool = true, _ body: (borrowing IdentityGraph) throws(AudienceError) -> T) throws(AudienceError) -> T {
    let shared = try graph.withSharedLock { g throws(AudienceError) -> T? in
      // `indexBehind` is written only with the lock held alone.
      if settling && indexBehind != nil { return nil }
      if let lost = graphLost.withLock({ $0 }) { throw lost }
      return try body(g)
    }
    if let shared { return shared }
    return try withLiveGraph(settling: settling) { g throws(AudienceError) -> T in try body(g) }
  }

  /// Waits for the `indexer` thread to apply every index change handed to it, and puts the index
  /// back into the graph. Called under the graph lock.
  func settleIndex(_ g: inout IdentityGraph) {
    guard let behind = indexBehind else { return }
    indexBehind = nil
    let caughtUp = DispatchSemaphore(value: 0)
    indexer.submit { _ in caughtUp.signal() }
    caughtUp.wait()
    g.attach(behind.index.take())
  }

  /// How long writes must pause before the `indexer` brings the posting sets up to date.
  static let catchUpAfter = DispatchTimeInterval.milliseconds(50)

  /// With no more records queued, has the `indexer` bring the detached index's posting sets up
  /// to date (`DetachedIndex.catchUp`) once writes have paused for `catchUpAfter`. So a reader
  /// after a bulk load seldom waits for that, and during the load the posting sets are left
  /// behind and caught up in one pass, a column at a time, instead of a profile at a time
  /// (SegmentIndex+Deferred.swift). Catching up after every commit measured no faster than
  /// keeping them in step (docs/BENCHMARKS.md).
  private func catchUpWhenIdle() {
    guard writer.withLock({ $0.pending.isEmpty }) else { return }
    let commits = commitsMade.load(ordering: .relaxed)
    DispatchQueue.global().asyncAfter(deadline: .now() + Self.catchUpAfter) { [weak self] in
      guard let self, self.commitsMade.load(ordering: .relaxed) == commits else { return }
      // Shared: `indexBehind` is only read here (taken alone, this waited for long reads, and
      // every read after it waited too).
      self.graph.withSharedLock { _ in
        guard let behind = self.indexBehind else { return }
        self.indexer.submit { state in
          if case .active = state { behind.index.catchUp() }
        }
      }
    }
  }

  private func hand(_ changes: consuming [IndexChange], to handoff: IndexHandoff) {
    let changes = Handoff(changes)
    indexer.submit { _ in handoff.index.apply(changes.take()) }
  }

  /// A commit's database write, run on the `durable` thread while the leader applies.
  final class DurableWrite: @unchecked Sendable {
    let done = DispatchSemaphore(value: 0)
    /// Set before `done` is signalled.
    var failure: AudienceError?
  }

  /// Commits a group: under the graph lock, decides what to store (skipping records stored
  /// before or repeated within the group), writes those rows on the `durable` thread while
  /// applying them to the graph, then waits for the write. Readers wait on the lock, so they
  /// see the records only once they are durable; if the write fails, the graph is rebuilt from
  /// the database and the group fails.
  func commit(_ batch: consuming [Pending]) {
    // Checked before anything is applied (a failed write rebuilds the graph from the database).
    if let gone = databaseFileGone() {
      for p in batch { p.done?(.failure(gone)) }
      return
    }
    commitsMade.add(1, ordering: .relaxed)
    let now = clock()
    let nowText: [UInt8] = {
      var text: [UInt8] = []
      now.appendISO8601(to: &text)
      return text
    }()
    var batch = consume batch
    var failure: AudienceError?
    var leftDetached = false
    var wrote = false  // rows were written (a commit of duplicates alone writes none)
    let answer = graph.withLock { g -> [[IngestOutcome]]? in
      // 1. Decide what to write.
      var seq = g.lastSeq
      var refs: [RowRef] = []
      var plan: [[ContentID?]] = []  // per pending, per record: the id when it is a duplicate
      for (group, pending) in batch.enumerated() {
        var marks: [ContentID?] = []
        marks.reserveCapacity(pending.contentIDs.count)
        // Each claim's bucket is fetched `lookAhead` claims before it (a cache miss each).
        let hashes = pending.claimHashes
        for h in hashes.prefix(Self.lookAhead) { g.prefetchClaim(hash: h) }
        for (i, id) in pending.contentIDs.enumerated() {
          if i + Self.lookAhead < hashes.count { g.prefetchClaim(hash: hashes[i + Self.lookAhead]) }
          // Claimed now, so that the same content later in this commit is a duplicate too; a
          // failed write rebuilds the graph, claims included.
          guard g.claim(id, hash: hashes[i], seq: seq + 1) else {
            marks.append(id)
            continue
          }
          marks.append(nil)
          seq += 1
          refs.append(RowRef(group: group, record: i, seq: seq, assignedTime: pending.rows.hasTime(i) ? nil : now))
        }
        plan.append(marks)
      }
      // 2. Make them durable, beside 3.
      let write = DurableWrite()
      if refs.isEmpty {
        write.done.signal()
      } else {
        let (written, rows) = (refs, batch.map(\.rows))
        // The profiles earlier commits created go with these rows (a failed write rebuilds the
        // graph, which logs them again).
        let creations = g.takeProfileCreations()
        let refusals = g.takeCapRefusals()
        let through = g.lastSeq  // before these rows: the records the creations are of
        durable.submit { _ in
          do throws(AudienceError) {
            try self.write(written, rows: rows, creations: (creations, through), refusals: refusals, assignedTime: nowText)
          } catch { write.failure = error }
          write.done.signal()
        }
      }
      // 3. Apply them, each record moved out of its group. A large commit's index changes are
      // made on the `indexer` thread, a slice at a time, while the next records are applied; so
      // are a commit's after it until a reader (`withGraph`) waits for the thread to catch up.
      let indexing =
        indexBehind ?? (refs.count >= Self.indexElsewhereFrom ? IndexHandoff(g.detachIndex(reserving: Self.indexSlice)) : nil)
      var outcomes: [IngestOutcome] = []
      outcomes.reserveCapacity(refs.count)
      // Each record's identifier lookups are fetched `lookAhead` records before it is applied.
      func lookups(_ n: Int) -> IdentityGraph.LookupHashes { batch[refs[n].group].lookups[refs[n].record] }
      for n in 0..<min(Self.lookAhead, refs.count) { g.prefetch(lookups(n)) }
      // What a record moved out leaves in its place (made once: a record made per slot, its
      // location and demographics built and copied in, cost more than the move).
      let blank = Record(cookie: "")
      for (n, ref) in refs.enumerated() {
        if n + Self.lookAhead < refs.count { g.prefetch(lookups(n + Self.lookAhead)) }
        var record = batch[ref.group].records.withUnsafeMutableBufferPointer { records in
          let slot = records.baseAddress! + ref.record
          defer { slot.initialize(to: blank) }
          return slot.move()
        }
        if let time = ref.assignedTime { record.createdAt = time }
        outcomes.append(g.applyNew(consume record, seq: ref.seq, hashes: lookups(n)))
        if let indexing, n % Self.indexSlice == Self.indexSlice - 1 {
          hand(g.takeIndexChanges(reserving: Self.indexSlice), to: indexing)
        }
      }
      if let indexing {
        hand(g.takeIndexChanges(), to: indexing)
        // The index is left to catch up: the next commit goes on handing it changes, and the
        // next reader waits for it. At most this commit's changes wait: the indexer must have
        // applied the last commit's (memory stays bounded when it is the slower).
        indexing.lastCommitApplied?.wait()
        let applied = DispatchSemaphore(value: 0)
        indexer.submit { _ in applied.signal() }
        indexing.lastCommitApplied = applied
      }
      indexBehind = indexing
      leftDetached = indexing != nil
      write.done.wait()
      if let writeFailure = write.failure {
        failure = writeFailure
        recover(&g, after: writeFailure, records: refs.count)
        return nil
      }
      wrote = !refs.isEmpty
      // 4. Answer.
      var results: [[IngestOutcome]] = []
      results.reserveCapacity(plan.count)
      var next = 0
      for marks in plan {
        results.append(
          marks.map { duplicate in
            if let duplicate { return g.duplicateOutcome(of: duplicate) }
            defer { next += 1 }
            return outcomes[next]
          })
      }
      notifyWatchers { $0.update(after: results.joined(), in: g) }
      return results
    }
    guard let answer else {
      lastWriteFailure.withLock { $0 = failure!.message }
      for p in batch { p.done?(.failure(failure!)) }
      return
    }
    // Only a write clears it: a commit of duplicates alone proves nothing of the disk.
    if wrote { lastWriteFailure.withLock { $0 = nil } }
    if leftDetached { catchUpWhenIdle() }
    // A group without a callback is answered with the next one that has it (one call's groups).
    var carried: [IngestOutcome] = []
    for (p, r) in zip(batch, answer) {
      guard let done = p.done else {
        carried += r
        continue
      }
      done(.success(carried.isEmpty ? r : carried + r))
      carried = []
    }
  }

  /// After a failed write whose records the graph already holds: rebuilds the graph from the
  /// database, so that nothing the database does not hold stays visible. Watches end: their
  /// memberships were computed on the graph that is gone.
  private func recover(_ g: inout IdentityGraph, after failure: AudienceError, records: Int) {
    storageFailed.store(true, ordering: .relaxed)
    // The index back in the graph first: if the rebuild fails, the graph stays, with its index.
    settleIndex(&g)
    logger.error("commit failed; rebuilding the graph from the database", metadata: ["store.error": "\(failure)", "store.records": "\(records)"])
    do {
      g = try Self.replay(db, limits: g.limits)
    } catch {
      // The graph still holds the failed commit's records, which the database does not: serving
      // it would show them. Reads fail as writes do, until a restart replays the database (or
      // says why it cannot).
      logger.critical("the graph could not be rebuilt; refusing reads and writes until a restart", metadata: ["store.error": "\(error)"])
      graphLost.withLock {
        $0 = AudienceError(
          .unavailable,
          "a storage write failed (\(failure.message)) and the graph could not be rebuilt from the database (\(error)); "
            + "reads and writes are refused until audienced is restarted")
      }
    }
    let open = watchers.withLock { table in
      defer { table.live = [:] }
      return table.live.values.map(\.queue)
    }
    for queue in open {
      queue.finish(throwing: AudienceError(.unavailable, "a storage write failed; watch the segment again"))
    }
  }

  /// The most bytes of JSON the durable thread keeps for its next write.
  static let keptBatchTextBytes = 32 << 20


  /// Inserts the records as `record_batches` rows, in one transaction (on the `durable` thread).
  private func write(
    _ refs: [RowRef], rows: [RecordBatchRows], creations: (pairs: [UInt64], through: UInt64), refusals: [IdentityGraph.CapRefusal],
    assignedTime: [UInt8]
  ) throws(AudienceError) {
    guard let insert else { throw AudienceError(.unavailable, "the store is closed") }
    if let fault = writeFault.withLock({ $0.take() }) { throw fault }
    do {
      // The last write's buffer, so that its pages are not fresh ones again (a page fault each).
      var text: [UInt8] = []
      swap(&text, &batchText)
      defer { if text.capacity <= Self.keptBatchTextBytes { swap(&text, &batchText) } }
      try db.transaction { () throws(AudienceError) in
        var start = 0
        while start < refs.count {
          // A row ends after `recordsPerRow` records or once it passes `rowBytes`.
          text.removeAll(keepingCapacity: true)
          text.append(0x5B)  // [
          var end = start
          while end < refs.count, end - start < recordsPerRow, text.count < rowBytes {
            if end > start { text.append(0x2C) }  // ,
            let ref = refs[end]
            rows[ref.group].append(ref.record, seq: ref.seq, assignedTime: assignedTime, to: &text)
            end += 1
          }
          text.append(0x5D)  // ]
          try RecordBatches.insert(text, first: refs[start].seq, last: refs[end - 1].seq, count: end - start, using: insert)
          start = end
        }
        try ProfileCreationLog.write(creations.pairs, through: creations.through, to: db)
        try CapRefusalLog.write(refusals, to: db)
      }
    } catch {
      throw AudienceError(.unavailable, "storage write failed: \(error.message)")
    }
  }
}
