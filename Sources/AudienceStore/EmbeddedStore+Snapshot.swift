import AudienceCore
import Dispatch
import Logging
import Synchronization
internal import Glibc

/// Start-up and shutdown of the embedded store: the graph restored from the shutdown snapshot
/// (`GraphSnapshotFile`) or replayed from the records, and the snapshot saved at a clean close.
extension EmbeddedStore {
  /// The graph of the stored records: restored from the snapshot of the last clean shutdown
  /// when it is still exactly that (`GraphSnapshotFile`), else replayed record by record.
  /// - Parameters:
  ///   - reading: entered when a restored graph's raw records are left to the returned loader
  ///     (the caller leaves it once they are installed): the file is zeroed only after that.
  /// - Returns: the graph; and, when it was restored, the loader of its raw records.
  static func restoreOrReplay(
    _ db: SQLiteDatabase, directory: String, limits: RecordLimits, logger: Logger, reading: DispatchGroup
  ) throws(AudienceError) -> (IdentityGraph, records: GraphSnapshotFile.RecordsLoader?) {
    // The token goes before anything can change the records: a snapshot is used at most once.
    let rows = try db.prepare("SELECT value FROM meta WHERE key = '\(GraphSnapshotFile.tokenKey)'")
    let token = try rows.step() ? rows.text(0) : nil
    rows.reset()
    // The change count the snapshot was saved at, and the count now (RecordBatches.changeCounter).
    func meta(_ key: String) throws(AudienceError) -> String? {
      let row = try db.prepare("SELECT value FROM meta WHERE key = '\(key)'")
      defer { row.reset() }
      return try row.step() ? row.text(0) : nil
    }
    let changesThen = try meta(RecordBatches.snapshotChangesKey), changesNow = try meta("record_changes")
    try db.execute("DELETE FROM meta WHERE key IN ('\(GraphSnapshotFile.tokenKey)', '\(RecordBatches.snapshotChangesKey)')")
    defer { GraphSnapshotFile.discard(directory: directory, after: reading) }
    if let token, let mapped = GraphSnapshotFile.map(directory: directory) {
      let started = ContinuousClock.now
      do {
        guard changesThen == (changesNow ?? "0") else {
          throw SnapshotError.damaged("the records were changed since it was saved (record_batches written outside the server)")
        }
        // The header first (the token is in it); each section is read in before it is decoded.
        try mapped.read(0..<min(mapped.bytes.count, GraphSnapshot.headerBound), "the header")
        guard let found = IdentityGraph.snapshotToken(mapped.bytes), GraphSnapshotFile.hex(found) == token else {
          throw SnapshotError.damaged("it is not the one the database names")
        }
        // The tables are counted while the sections decode (the connection is used by that one
        // task meanwhile: this thread waits).
        let (graph, counts, took, loader) = try GraphSnapshotFile.restore(mapped, limits: limits) { try? Self.tableCounts(db) }
        // The token says the file is the one saved last; the tables must also still be what it
        // was saved from (an older build or a sqlite3 session may have written since).
        guard let counts, counts.match(graph) else { throw SnapshotError.damaged("the database's tables changed since") }
        logger.info(
          "identity graph restored from the shutdown snapshot (raw records to follow)",
          metadata: [
            "store.records": "\(graph.recordCount)", "store.snapshot.bytes": "\(mapped.bytes.count)",
            "store.snapshot.seconds": "\(ContinuousClock.now - started)",
            "store.snapshot.sections": "\(took.map { "\($0.0)=\(Self.milliseconds($0.1))ms" }.joined(separator: " "))",
          ])
        reading.enter()
        return (graph, loader)
      } catch {
        logger.warning("replaying the records", metadata: ["store.snapshot": "\(error)"])
      }
    } else if token != nil {
      // Said as it is: gone, unreadable, or empty.
      let path = GraphSnapshotFile.path(directory)
      let why = access(path, F_OK) != 0 ? "is missing" : access(path, R_OK) != 0 ? "cannot be read" : "cannot be mapped (empty?)"
      logger.warning("the shutdown snapshot \(why); replaying the records")
    } else if let counts = try Self.tableCounts(db), counts.records > 0 {
      // Said, as OPERATIONS.md promises: none was saved for these records (a kill, a power cut,
      // a failed write, or a database restored from a backup).
      logger.info(
        "no shutdown snapshot of these records (the last stop was not clean, a write had failed, or the database was restored); replaying them",
        metadata: ["store.records": "\(counts.records)"])
    }
    // How long it took, said: after a kill, a million records take seconds to replay.
    let started = ContinuousClock.now
    let graph = try replay(db, limits: limits)
    logger.info(
      "identity graph rebuilt from the records",
      metadata: [
        "store.records": "\(graph.recordCount)", "store.profiles": "\(graph.profileCount)",
        "store.replay.seconds": "\(ContinuousClock.now - started)",
      ])
    return (graph, nil)
  }

  /// Installs a restored graph's raw records (`IdentityGraph.rawRecordsLoaded`), decoded from
  /// the snapshot, or read from the database if that fails; then lets writes and the reads of
  /// raw records through. Runs in the background while the server already answers.
  func loadRecords(_ loader: GraphSnapshotFile.RecordsLoader) {
    let started = ContinuousClock.now
    do {
      let raw = try loader.decode()
      let decoded = ContinuousClock.now
      try withGraph { g throws(SnapshotError) in try g.installRecords(raw) }
      logger.info(
        "raw records restored from the shutdown snapshot",
        metadata: [
          "store.snapshot.seconds": "\(ContinuousClock.now - started)",
          "store.snapshot.decode": "\(Self.milliseconds(decoded - started))ms",
        ])
    } catch {
      logger.warning("reading the raw records from the database", metadata: ["store.snapshot": "\(error)"])
      do {
        var raw = IdentityGraph.RawRecords(records: [], contentIDs: DenseTable())
        try RecordBatches.forEach(in: db) { stored in
          let slot = Int(stored.seq)
          while raw.records.count < slot { raw.records.append(nil) }
          raw.records.append(stored.record)
          raw.contentIDs[stored.contentID] = stored.seq
        }
        raw.linkRecords()
        try withGraph { g throws(SnapshotError) in try g.installRecords(raw) }
      } catch {
        // Reads of profiles go on; everything that needs the raw records (writes, erasures,
        // cookie cohorts, export, history) answers UNAVAILABLE until a restart replays them. No
        // snapshot is saved.
        storageFailed.store(true, ordering: .relaxed)
        // Never cleared: every write is refused until a restart.
        lastWriteFailure.withLock { $0 = "the stored records could not be read at start-up (\(error)); restart audienced" }
        logger.critical("cannot read the raw records: writes are refused until a restart", metadata: ["store.error": "\(error)"])
        recordsFailure.withLock { $0 = AudienceError(.unavailable, "the stored records could not be read at start-up (\(error)); restart audienced") }
        recordsReading.leave()
        return
      }
    }
    // Before writes go on (they wait for the records), while the connection is free.
    checkDatabase()
    recordsReady.store(true, ordering: .releasing)
    recordsReading.leave()
  }

  /// Blocks until the raw records are loaded (at once unless a restore is still loading them).
  /// - Returns: why they never will be, or nil once they are there.
  func waitForRecords() -> AudienceError? {
    if recordsReady.load(ordering: .acquiring) { return nil }
    recordsReading.wait()
    return recordsFailure.withLock { $0 }
  }

  /// Waits until the raw records are loaded (at once unless a restore is still loading them).
  /// - Throws: UNAVAILABLE when they could not be loaded.
  func recordsLoaded() async throws(AudienceError) {
    if recordsReady.load(ordering: .acquiring) { return }
    await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
      recordsReading.notify(queue: .global()) { c.resume() }
    }
    if let failure = recordsFailure.withLock({ $0 }) { throw failure }
  }

  /// What the tables hold, to tell whether they are still what a snapshot was built from.
  struct TableCounts: Sendable {
    var records: Int64
    var maxSeq: UInt64
    var splits: Int64

    /// Whether the tables hold what `graph` was built from: as many records, none after its
    /// last sequence number, as many splits.
    func match(_ graph: IdentityGraph) -> Bool {
      records == Int64(graph.recordCount) && maxSeq <= graph.lastSeq && splits == Int64(graph.splitCookies.count)
    }
  }

  static func milliseconds(_ d: Duration) -> Int {
    Int(d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000)
  }

  static func tableCounts(_ db: SQLiteDatabase) throws(AudienceError) -> TableCounts? {
    let rows = try db.prepare("SELECT coalesce(sum(count), 0), coalesce(max(last_seq), 0), (SELECT count(*) FROM splits) FROM record_batches")
    guard try rows.step() else { return nil }
    return TableCounts(records: rows.int64(0) ?? -1, maxSeq: UInt64(bitPattern: rows.int64(1) ?? 0), splits: rows.int64(2) ?? -1)
  }

  /// The graph rebuilt by applying every stored record in order (and the splits where they
  /// happened).
  static func replay(_ db: SQLiteDatabase, limits: RecordLimits) throws(AudienceError) -> IdentityGraph {
    var g = IdentityGraph(limits: limits)
    // The logged refusals hold only under the cap they were decided under: under another, every
    // link is decided afresh, and the log replaced with those decisions once the replay is done.
    let cap = limits.maxIdentifiersPerProfile
    let loggedCap = try CapRefusalLog.loggedCap(db)
    let sameCap = loggedCap.map { $0 == cap } ?? true
    if sameCap {
      g.freezeCapRefusals(try CapRefusalLog.read(db))
      g.freezeCapLinks(try CapRefusalLog.readLinks(db))
    }
    let rows = try db.prepare("SELECT coalesce(sum(count), 0) FROM record_batches")
    if try rows.step(), let n = rows.int64(0) { g.reserve(records: Int(n)) }
    // Splits happen where they happened: after the records stored before them. Profile ids as
    // they were given (IdentityGraph+ProfileIDs.swift): each stored record that created a
    // profile gets its id again, the ids of erased ones stay taken, splits give theirs again, and
    // at each erasure every id taken by then is. Erasures and splits go by the record they came
    // after; after the same record, erasures first (the ids a split gave are in the log, by
    // record, unless it was the last thing before a crash: then the erasures after the same
    // record came before it).
    var events: [(after: UInt64, nextID: Int?, split: (cookie: String, row: UInt64)?)] = try ProfileCreationLog.readMarks(db).map {
      ($0.after, $0.nextID, nil)
    }
    let selectSplits = try db.prepare("SELECT cookie, after_seq, rowid FROM splits ORDER BY after_seq, rowid")
    while try selectSplits.step() {
      guard let cookie = selectSplits.text(0) else { continue }
      let after = UInt64(bitPattern: selectSplits.int64(1) ?? 0)
      let row = UInt64(bitPattern: selectSplits.int64(2) ?? 0)
      let at = events.firstIndex { $0.after > after } ?? events.count
      events.insert((after, nil, (cookie, row)), at: at)
    }
    let (creations, splitMade) = try ProfileCreationLog.readAll(db)
    g.replaySplitHints(splitMade)
    // Records after the last one the log covers were the last commit's before a crash: what they
    // created takes the ids it had, in order after every id given before (logged, or taken at an
    // erasure); a creation only the replay makes takes one past them.
    let through = try ProfileCreationLog.loggedThrough(db)
    var after = 0
    if let through {
      let count = try db.prepare("SELECT coalesce(sum(count), 0) FROM record_batches WHERE last_seq > ?")
      count.bind(1, Int64(bitPattern: through))
      if try count.step() { after = Int(count.int64(0) ?? 0) }
    }
    g.replayFreshIDs(
      from: max(((creations.map(\.id) + splitMade.map(\.id)).max() ?? -1) + 1, events.compactMap(\.nextID).max() ?? 0),
      forRecordsFrom: creations.first?.seq ?? .max, loggedThrough: through, recordsAfter: after)
    var nextCreation = 0
    var nextEvent = 0
    /// Reserves the ids erased records had created before `seq`.
    func reserveErased(before seq: UInt64) {
      while nextCreation < creations.count, creations[nextCreation].seq < seq {
        g.reserveProfileID(creations[nextCreation].id)
        nextCreation += 1
      }
    }
    /// Replays the erasures and splits that came after records before `seq`.
    func replayEvents(before seq: UInt64) {
      while nextEvent < events.count, events[nextEvent].after < seq {
        let event = events[nextEvent]
        nextEvent += 1
        reserveErased(before: event.after + 1)
        if let taken = event.nextID { g.reserveProfileIDs(below: taken) }
        if let split = event.split { g.split(cookie: split.cookie, application: split.row) }
      }
    }
    g.beginReplay()
    try RecordBatches.forEach(in: db) { stored in
      replayEvents(before: stored.seq)
      reserveErased(before: stored.seq)
      let hinted = nextCreation < creations.count && creations[nextCreation].seq == stored.seq
      if hinted {
        g.hintCreation(creations[nextCreation].id)
        nextCreation += 1
      }
      g.apply(stored)
      if hinted { g.endHint() }
    }
    replayEvents(before: .max)
    reserveErased(before: .max)
    // Records stored from now on come after every record, erasure and split there was, as they
    // did before the restart (even when the last records were erased since): a seq is never
    // given twice, and the log's entries keep naming the records they were made for.
    let highest = ([g.lastSeq] + events.map(\.after) + creations.map(\.seq) + splitMade.map(\.seq)).max() ?? 0
    g.advanceSequence(to: highest)
    g.finishReplay()
    // What the replay made that the log does not name (the last commit's creations, those only
    // the replay makes) is logged now, with a mark of the ids taken: the profiles this start
    // makes next are numbered past those ids, and another crash before the next commit must
    // number them so too (it numbered them from the last logged id: a review found them lower).
    // Best effort: after a failed write (`recover`), the next commit logs them, as before.
    let made = g.takeProfileCreations()
    do {
      try db.transaction { () throws(AudienceError) in
        try ProfileCreationLog.write(made, through: g.lastSeq, to: db)
        try ProfileCreationLog.writeMark(afterSeq: g.lastSeq, nextID: g.profileIDsTaken, to: db)
      }
    } catch {
      g.restoreProfileCreations(made)
    }
    if !sameCap {
      try CapRefusalLog.replace(with: g.takeCapRefusals(), cap: cap, in: db)
    } else if loggedCap == nil {
      try db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('\(CapRefusalLog.capKey)', '\(cap)')")
    }
    return g
  }

  /// At a clean shutdown, after the last commit: saves the graph for the next start (best
  /// effort: without it the next start replays the records).
  func saveSnapshot() {
    guard !storageFailed.load(ordering: .relaxed) else {
      logger.notice("no snapshot saved: a storage write failed since the start; the next start replays the records")
      return
    }
    let token = GraphSnapshotFile.newToken()
    let started = ContinuousClock.now
    let parts = GraphSnapshotFile.encode(withGraph { $0 }, token: token)
    let bytes = parts.reduce(0) { $0 + $1.count }
    let encoded = ContinuousClock.now - started
    do {
      try GraphSnapshotFile.write(parts, directory: directory)
      try db.transaction { () throws(AudienceError) in
        try db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('\(GraphSnapshotFile.tokenKey)', '\(GraphSnapshotFile.hex(token))')")
        try db.execute(
          "INSERT OR REPLACE INTO meta(key, value) SELECT '\(RecordBatches.snapshotChangesKey)', coalesce((SELECT value FROM meta WHERE key = 'record_changes'), '0')")
      }
      logger.info(
        "snapshot saved",
        metadata: [
          "store.snapshot.bytes": "\(bytes)", "store.snapshot.encode": "\(encoded)",
          "store.snapshot.write": "\(ContinuousClock.now - started - encoded)",
        ])
    } catch {
      GraphSnapshotFile.discard(directory: directory)
      logger.warning("no snapshot saved; the next start replays the records", metadata: ["store.error": "\(error)"])
    }
  }
}

extension EmbeddedStore {
  /// At a clean shutdown: stores the profile creations and cap refusals no commit took yet (a
  /// replay after a later erasure needs them; the snapshot has the ids too).
  func flushProfileCreations() {
    // A lost graph's creations include those of records never stored (`graphLost`).
    guard graphLost.withLock({ $0 }) == nil else { return }
    let (creations, refusals, through) = withGraph { ($0.takeProfileCreations(), $0.takeCapRefusals(), $0.lastSeq) }
    guard !creations.isEmpty || !refusals.isEmpty else { return }
    // Not stored: no snapshot either (it would be restored with the creations gone for good);
    // the next start replays, and logs them again.
    do {
      if let fault = writeFault.withLock({ $0.take() }) { throw fault }
      try db.transaction { () throws(AudienceError) in
        try ProfileCreationLog.write(creations, through: through, to: db)
        try CapRefusalLog.write(refusals, to: db)
      }
    } catch {
      storageFailed.store(true, ordering: .relaxed)
      logger.warning("profile creations not stored", metadata: ["store.error": "\(error)"])
    }
  }
}
