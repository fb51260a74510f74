public import AudienceCore
import Logging
import Synchronization

/// One person at a time: erasing (forget), splitting a cookie off, export and history. Erasures
/// and splits are queued to the leader, so they come after the records committed before them.
extension EmbeddedStore {
  public func forget(_ person: PersonRef) async throws -> ProfileSummary? {
    try await submit { state, continuation in state.forgets.append(PendingForget(person: person, continuation: continuation)) }
  }

  /// Deletes a person's rows durably, then drops the profile from the graph and every watch.
  func erase(_ f: PendingForget) {
    // As a commit: written to a file no one can open again, it would also have cleared Health.
    if let gone = databaseFileGone() { return f.continuation.resume(throwing: gone) }
    // An email on stored records that links no person is not "nobody": say whose records hold it.
    if let refusal = withGraph(settling: false, { g in g.profileID(of: f.person) == nil ? g.unlinkedEmail(f.person, command: "forget") : nil }) {
      return f.continuation.resume(throwing: refusal)
    }
    let plan = withGraph {
      g -> (
        id: ProfileID, seqs: [UInt64], summary: ProfileSummary, creations: [UInt64], lastSeq: UInt64, ids: Int,
        members: [(seq: UInt64, id: ProfileID)], refusals: [IdentityGraph.CapRefusal]
      )? in
      guard let id = g.profileID(of: f.person), let summary = g.summary(of: id) else { return nil }
      // The profiles created so far are logged before any of their records is erased, with the
      // ids taken by now: a replay then numbers the rest as they are numbered now. A split of an
      // erased cookie is erased too, so a replay will not make the profiles it made: each live
      // profile's earliest record is then what creates it, and no other of its records may
      // create a lower id (`ProfileCreationLog.writeCreators`).
      let splitGone = !g.splitCookies.isDisjoint(with: summary.cookies)
      return (
        id, g.recordSeqs(of: id), summary, g.takeProfileCreations(), g.lastSeq, g.profileIDsTaken,
        splitGone ? g.recordProfiles(excluding: id) : [], g.takeCapRefusals()
      )
    }
    guard let plan else { return f.continuation.resume(returning: nil) }
    do {
      try db.transaction { () throws(AudienceError) in
        try ProfileCreationLog.write(plan.creations, through: plan.lastSeq, to: db)
        try ProfileCreationLog.writeMark(afterSeq: plan.lastSeq, nextID: plan.ids, to: db)
        // Every cap refusal made so far is logged before the records go: a replay without them
        // refuses those links again (IdentityGraph+CapRefusals.swift).
        try CapRefusalLog.write(plan.refusals, to: db)
        func identifiers(_ seqs: [UInt64]) -> [(cookie: String, email: String?)?] {
          withGraph(settling: false) { $0.identifiers(of: seqs) }
        }
        let replay = try SplitReplay.read(
          whenNeeded: !plan.members.isEmpty, erasing: plan.seqs, cookies: plan.summary.cookies, identifiers: identifiers, in: db)
        if !plan.members.isEmpty, let replay {
          try ProfileCreationLog.writeCreators(plan.members, replay: replay, to: db)
        }
        try CapRefusalLog.erase(
          records: plan.seqs, cookies: plan.summary.cookies, replay: replay,
          profileRecords: { seqs in withGraph(settling: false) { $0.profileRecords(holding: seqs) } },
          identifiers: identifiers, in: db)
        try RecordBatches.erase(plan.seqs, in: db)
        try db.prepare("DELETE FROM splits WHERE cookie = ?").stepEach(plan.summary.cookies) { $0.bind(1, $1) }
      }
    } catch {
      withGraph {
        $0.restoreProfileCreations(plan.creations)
        $0.restoreCapRefusals(plan.refusals)
      }
      storageFailed.store(true, ordering: .relaxed)
      lastWriteFailure.withLock { $0 = "erasure failed: \(error)" }
      logger.error("erasure failed", metadata: ["store.error": "\(error)"])
      return f.continuation.resume(throwing: AudienceError(.unavailable, "erasure failed: \(error)"))
    }
    // The erasure is committed: whatever the checkpoint does, the records are gone from the
    // database, and so they go from the graph.
    lastWriteFailure.withLock { $0 = nil }
    emptyLogAfterErasure()
    withGraph { g in
      g.forget(plan.id, records: plan.seqs)
      notifyWatchers { $0.forgotten(plan.id).map { [$0] } ?? [] }
    }
    logger.info("erased a profile", metadata: ["store.profile": "\(plan.id)", "store.records": "\(plan.seqs.count)"])
    f.continuation.resume(returning: plan.summary)
  }

  /// Copies the log into the database file and empties it: the old rows an erasure replaced are
  /// still in it. A reader holding the log (an analyst's `sqlite3` in a transaction) keeps it
  /// from being emptied; that is waited for briefly, not the usual busy timeout (the leader, and
  /// so every write, waits meanwhile), and logged; the leader tries again every
  /// `checkpointRetryAfter` until the log is empty, as do the next erasure and closing.
  func emptyLogAfterErasure() {
    checkpointsTried.add(1, ordering: .relaxed)
    var reason: String?
    do {
      try db.execute("PRAGMA busy_timeout=250")
      defer { try? db.execute("PRAGMA busy_timeout=5000") }
      // One row: busy (1 when it could not finish), pages in the log, pages copied.
      let checkpoint = try db.prepare("PRAGMA wal_checkpoint(TRUNCATE)")
      defer { checkpoint.reset() }
      if try !checkpoint.step() || checkpoint.int64(0) != 0 { reason = "a reader holds the log" }
    } catch {
      reason = "\(error)"
    }
    let wasOwed = erasureCheckpointOwed.exchange(reason != nil, ordering: .relaxed)
    if let reason {
      // Said once, not at every retry.
      if !wasOwed {
        logger.error(
          "an erased person's old bytes may remain in audience.db-wal until a checkpoint can empty it (tried again periodically, at the next erasure and at shutdown)",
          metadata: ["store.error": "\(reason)"])
      }
      retryCheckpointLater()
    } else if wasOwed {
      logger.notice("the log an erasure left is empty now")
    }
  }

  /// The `meta` key of the highest split number given (`splits` rowid).
  static let lastSplitKey = "last_split_row"

  public func split(cookie: String) async throws -> [ProfileSummary]? {
    let result: SplitResult? = try await submit { state, continuation in
      state.splits.append(PendingSplit(cookie: cookie, continuation: continuation))
    }
    guard let result else { return nil }
    return try readLiveGraph(settling: false) { g in result.profiles.compactMap { g.summary(of: $0) } }
  }

  /// Records a split durably (after the records committed so far), then applies it to the graph
  /// and every watch.
  func split(_ s: PendingSplit) {
    if let gone = databaseFileGone() { return s.continuation.resume(throwing: gone) }
    let state = withGraph { g -> (lastSeq: UInt64, profile: ProfileID, before: Bool, seqs: [UInt64])? in
      g.profileID(of: .cookie(s.cookie)).map { id in
        let before = g.splitCookies.contains(s.cookie)
        return (g.lastSeq, id, before, before ? [] : g.recordSeqs(of: id))
      }
    }
    guard let state else { return s.continuation.resume(returning: nil) }
    // Split before: it stands alone already (and its split keeps its place in the sequence).
    if state.before { return s.continuation.resume(returning: SplitResult(from: state.profile, profiles: [state.profile])) }
    let lastSeq = state.lastSeq
    let row: UInt64
    do {
      row = try db.transaction { () throws(AudienceError) -> UInt64 in
        // Numbered after every split there ever was, not only those left: a split's number tags
        // the ids and refusals its rebuild logged, and SQLite gives a forgotten last split's
        // rowid to the next one (a replay gave that one the ids the forgotten split had given).
        let insert = try db.prepare(
          """
          INSERT OR IGNORE INTO splits(rowid, cookie, after_seq) VALUES (
            max(coalesce((SELECT max(rowid) FROM splits), 0),
                coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = '\(Self.lastSplitKey)'), 0)) + 1, ?, ?)
          """)
        insert.bind(1, s.cookie)
        insert.bind(2, Int64(bitPattern: lastSeq))
        _ = try insert.step()
        insert.reset()
        try db.execute(
          """
          INSERT OR REPLACE INTO meta(key, value) SELECT '\(Self.lastSplitKey)', CAST(max(
            coalesce((SELECT max(rowid) FROM splits), 0),
            coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = '\(Self.lastSplitKey)'), 0)) AS TEXT)
          """)
        // The split's number, for the cap refusals its rebuild makes, and the records it applies
        // again (a forget of the cookie needs them: IdentityGraph+CapRefusals.swift).
        let select = try db.prepare("SELECT rowid FROM splits WHERE cookie = ?")
        select.bind(1, s.cookie)
        guard try select.step(), let id = select.int64(0) else { throw AudienceError(.internal, "the split's row is missing") }
        select.reset()
        try CapRefusalLog.writeSplit(UInt64(bitPattern: id), records: state.seqs, to: db)
        return UInt64(bitPattern: id)
      }
    } catch {
      storageFailed.store(true, ordering: .relaxed)
      lastWriteFailure.withLock { $0 = "split failed: \(error)" }
      logger.error("split failed", metadata: ["store.error": "\(error)"])
      return s.continuation.resume(throwing: AudienceError(.unavailable, "split failed: \(error)"))
    }
    let result = withGraph { g -> SplitResult? in
      let before = g.view(of: state.profile)
      guard let result = g.split(cookie: s.cookie, application: row, records: state.seqs) else { return nil }
      notifyWatchers { $0.update(after: result, before: before, in: g) }
      return result
    }
    // The ids the split gave (and the links its rebuild refused) are stored before it is
    // answered: left for the next commit, a crash before one had the replay give them afresh,
    // after every logged id (k10 came back as 8, not 7). If this write fails, the split stands
    // and the next commit stores them, as before.
    let (creations, refusals, through) = withGraph { g in (g.takeProfileCreations(), g.takeCapRefusals(), g.lastSeq) }
    do {
      try db.transaction { () throws(AudienceError) in
        try ProfileCreationLog.write(creations, through: through, to: db)
        try CapRefusalLog.write(refusals, to: db)
      }
    } catch {
      withGraph {
        $0.restoreProfileCreations(creations)
        $0.restoreCapRefusals(refusals)
      }
      logger.warning("the split's profile ids wait for the next commit", metadata: ["store.error": "\(error)"])
    }
    logger.info("split a cookie off its profile", metadata: ["store.profile": "\(result?.from ?? -1)", "store.profiles": "\(result?.profiles ?? [])"])
    s.continuation.resume(returning: result)
  }

  public func export(_ person: PersonRef) async throws -> PersonExport? {
    try await recordsLoaded()
    return try readLiveGraph(settling: false) { g throws(AudienceError) in
      if let export = g.export(person) { return export }
      if let refusal = g.unlinkedEmail(person, command: "export") { throw refusal }
      return nil
    }
  }

  public func history(_ person: PersonRef) async throws -> PersonHistory? {
    try await recordsLoaded()
    return try readLiveGraph(settling: false) { g throws(AudienceError) in
      if let history = g.history(person) { return history }
      if let refusal = g.unlinkedEmail(person, command: "history") { throw refusal }
      return nil
    }
  }
}
