public import AudienceCore
internal import Glibc
public import Logging
public import ServiceLifecycle
import Synchronization

/// The MongoDB store: the original layout (`users`, `unique`, `cohort`) over libmongoc, shared by
/// any number of `audienced` processes.
///
/// Raw records are the truth; a person's `unique` document is derived from them. Ingesting a
/// record (1) inserts it into `users` under its content id (a duplicate-key error means it was
/// stored before), then (2) finds the people its cookie and email belong to and writes their
/// document recomputed from their records (the same `IdentityGraph` replay the embedded store
/// does), with a compare-and-set on the document's version `v`. Unique indexes on `cookies` and
/// `emails` stop two writers from creating two people for one identifier; a writer that loses
/// (no match on `v`, or error 11000) reads again and retries. A merge first records its intent
/// in the survivor (`merging`: the absorbed person's id, version and identifiers), deletes the
/// absorbed document, then writes the survivor; any writer that meets a `merging` document
/// finishes the merge first, so a crash half-way loses nothing.
public final class MongoStore: ProfileStore, Service {
  public let kind = "mongodb"
  let connection: MongoConnection
  let limits: RecordLimits
  let categories: InterestCategories
  let logger: Logger
  private let clock: @Sendable () -> Timestamp
  private let indexesReady = Atomic<Bool>(false)

  /// Most attempts at one record before giving up (each loses a race to another writer).
  static let maxAttempts = 100

  /// Connects lazily: the store opens even while MongoDB is down, and each request fails with
  /// UNAVAILABLE until it is back.
  /// - Parameters:
  ///   - uri: the connection string.
  ///   - database: the database (`user_database` in the original).
  ///   - limits: record and profile bounds.
  ///   - categories: interest categories, for the `category` values stored with each person.
  ///   - threads: MongoDB calls that may run at once.
  ///   - logger: where to log.
  ///   - clock: the time given to records without `created_at`.
  public init(
    uri: String, database: String, limits: RecordLimits = .default, categories: InterestCategories = .standard,
    threads: Int = 4, logger: Logger, clock: @escaping @Sendable () -> Timestamp = MongoStore.wallClock
  ) throws(AudienceError) {
    guard !database.isEmpty, !database.contains(where: { "/\\. \"$".contains($0) }) else {
      throw AudienceError(.invalidArgument, "--mongo-db: \"\(database)\" is not a valid database name", field: "mongo-db")
    }
    connection = try MongoConnection(uri: uri, database: database, threads: threads)
    self.limits = limits
    self.categories = categories
    self.logger = logger
    self.clock = clock
    logger.info("mongodb store", metadata: ["store.hosts": "\(connection.hosts)", "store.database": "\(database)"])
  }

  /// Wall-clock time, the default clock.
  public static let wallClock: @Sendable () -> Timestamp = {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Timestamp(seconds: Int64(ts.tv_sec))
  }

  public func run() async throws {
    // Create the indexes now if MongoDB is up; otherwise the first request that reaches it does.
    do {
      try await run("createIndexes") { _ in }
    } catch let error as AudienceError where error.code == .failedPrecondition {
      // Wrong credentials do not mend themselves: stop, saying so, rather than serve errors.
      logger.error("cannot use MongoDB: \(error.message)")
      await connection.close()
      throw error
    } catch {
      logger.warning("MongoDB is not reachable yet; requests fail with UNAVAILABLE until it is", metadata: ["store.error": "\(error)"])
    }
    try? await gracefulShutdown()
    await connection.close()
  }

  /// Why MongoDB last refused a write (a full disk, a user without write rights), until a write
  /// succeeds: Health says "degraded" meanwhile. MongoDB out of reach is not noted: Health itself
  /// then fails with UNAVAILABLE.
  private let lastWriteFailure = Mutex<String?>(nil)
  public var writeFailure: String? { lastWriteFailure.withLock { $0 } }

  /// For tests: MongoDB's refusal every write meets while set, as a full disk's.
  let refuseWrites = Mutex<MongoFailure?>(nil)

  /// `run` for work that writes: a refusal by MongoDB (INTERNAL: it refused the request;
  /// FAILED_PRECONDITION: the user's rights) is noted for Health until a call for which `wrote`
  /// says something was written.
  func write<T: Sendable>(
    _ what: String, wrote: (T) -> Bool, _ body: @escaping @Sendable (MongoSession) throws -> T
  ) async throws -> T {
    do {
      let result = try await run(what) { [self] s in
        if let refusal = refuseWrites.withLock({ $0 }) { throw refusal }
        return try body(s)
      }
      if wrote(result) { lastWriteFailure.withLock { $0 = nil } }
      return result
    } catch let error as AudienceError where error.code == .internal || error.code == .failedPrecondition {
      lastWriteFailure.withLock { $0 = error.message }
      throw error
    }
  }

  /// Runs blocking MongoDB work on the store's threads, creating the indexes first if needed.
  func run<T: Sendable>(_ what: String, _ body: @escaping @Sendable (MongoSession) throws -> T) async throws -> T {
    try await connection.run(what) { [self] session in
      if !indexesReady.load(ordering: .acquiring) {
        try MongoIndexes.create(session)
        indexesReady.store(true, ordering: .releasing)
      }
      return try body(session)
    }
  }

  // MARK: ProfileStore

  public func ingest(_ records: [Record]) async throws -> [IngestOutcome] {
    if records.isEmpty { return [] }
    let now = clock()
    let stored: (IngestOutcome) -> Bool = { if case .duplicate = $0 { false } else { true } }
    return try await write("ingest", wrote: { $0.contains(where: stored) }) { [self] s in
      let first = try MongoCounters.reserve(s, "records", records.count)
      let stored = records.enumerated().map { (i, r) -> StoredRecord in
        var record = r
        let id = ContentID(of: r)
        if record.createdAt == nil { record.createdAt = now }
        return StoredRecord(seq: first + UInt64(i), contentID: id, record: record)
      }
      // Each record is stored marked pending, linked, then unmarked, before the next is stored.
      // Stored all first, a writer that died part way left records that a person's document,
      // recomputed from all of its cookie's records, already counted without their links: sent
      // again, each looked complete (a duplicate), and its email was never linked. A record
      // still marked was stored by a writer that died before linking it: it is linked now.
      var outcomes: [IngestOutcome] = []
      outcomes.reserveCapacity(stored.count)
      for r in stored {
        let id = JSONValue.string(r.contentID.description)
        var storedBefore = try insertRaw(s, [r], pending: true).contains(0)
        if storedBefore, try !waitForLink(s, id) {
          storedBefore = false  // by a writer that died before linking it
        }
        if stopAfterStoring.load(ordering: .relaxed) == outcomes.count {
          throw AudienceError(.unavailable, "MongoDB: stopped for a test after storing \(outcomes.count + 1) records")
        }
        outcomes.append(try MongoResolver(store: self, session: s).resolve(r, stored: storedBefore))
        if !storedBefore {
          try s.write(.object([
            ("update", .string(MongoDocuments.users)),
            ("updates", .array([.object([("q", .object([("_id", id)])), ("u", .object([("$unset", .object([("pending", .string(""))]))]))])])),
          ]))
        }
      }
      return outcomes
    }
  }

  /// For tests: an ingest stops (fails) after storing the record that follows this many linked
  /// ones, before linking it, as a writer that dies would; -1 never.
  let stopAfterStoring = Atomic<Int>(-1)

  /// How long a writer that meets a record still marked pending waits for the writer that stored
  /// it to link it, in milliseconds (settable for tests). A record stays marked only while one
  /// record is linked, a few round trips; one marked longer was left by a writer that died.
  let pendingLeaseMilliseconds = Atomic<Int>(3000)

  /// Whether the writer that stored this record (marked pending) links it and removes the mark
  /// within `pendingLeaseMilliseconds`: then the record is a duplicate here. It was taken at once
  /// for a dead writer's, and two live writers sending the same record both linked it and both
  /// reported it new (the people came out right; the outcomes and profile ids did not).
  private func waitForLink(_ s: MongoSession, _ id: JSONValue) throws -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(pendingLeaseMilliseconds.load(ordering: .relaxed))
    while true {
      let marked = try s.find(MongoDocuments.users, .object([("_id", id), ("pending", .bool(true))]), .object([("limit", .int(1))]))
      if marked.isEmpty { return true }
      if ContinuousClock.now >= deadline { return false }
      usleep(5_000)
    }
  }

  /// Inserts raw records (in chunks, unordered); returns the positions already stored.
  private func insertRaw(_ s: MongoSession, _ stored: [StoredRecord], pending: Bool = false) throws -> Set<Int> {
    var duplicates = Set<Int>()
    var start = 0
    while start < stored.count {
      let chunk = stored[start..<min(start + 1000, stored.count)]
      let reply = try s.writeReportingErrors(.object([
        ("insert", .string(MongoDocuments.users)), ("documents", .array(chunk.map { MongoDocuments.raw($0, pending: pending) })),
        ("ordered", .bool(false)),
      ]))
      for e in reply.errors {
        guard e.code == 11000 else { throw MongoFailure(server: e.code, e.message) }
        duplicates.insert(start + e.index)
      }
      start += chunk.count
    }
    return duplicates
  }

  public func user(cookie: String) async throws -> UserView? {
    try await run("GetUser") { [self] s in
      guard let doc = try MongoResolver(store: self, session: s).settledPerson(.cookie(cookie)),
        var data = MongoDocuments.view(doc), let summary = MongoDocuments.summary(doc)
      else { return nil }
      data.cookie = cookie
      return UserView(data: data, summary: summary)
    }
  }

  public func queryCohort(_ query: CohortQuery, categories: InterestCategories) async throws -> CohortPage {
    guard (1...CohortQuery.maxLimit).contains(query.limit) else {
      throw AudienceError.invalidField("limit", "\(query.limit) is outside 1...\(CohortQuery.maxLimit)")
    }
    if let cookie = query.cookie {
      return try await run("QueryCohort") { [self] s in
        guard let replay = try replayOfPerson(s, .cookie(cookie)) else { return CohortPage(total: 0, users: [], nextCursor: nil) }
        return try replay.replay.cohortPage(query, categories: categories)
      }
    }
    var after: Int64 = -1
    if let cursor = query.cursor, !cursor.isEmpty {
      // Digits only, as the embedded store reads them ("p-5" was read as the start).
      guard cursor.first == "p", cursor.utf8.dropFirst().allSatisfy({ (0x30...0x39).contains($0) }), let n = Int64(cursor.dropFirst()) else {
        throw AudienceError.invalidField("cursor", "\"\(cursor.prefix(40))\" is not a cursor of this query")
      }
      after = n
    }
    let filter = MongoFilter.query(query.filter)
    return try await run("QueryCohort") { [after] s in
      let total = try s.count(MongoDocuments.unique, filter)
      if query.countOnly { return CohortPage(total: total, users: [], nextCursor: nil) }
      let page = try s.find(
        MongoDocuments.unique,
        .object([("$and", .array([filter, .object([("_id", .object([("$gt", .int(after))]))])]))]),
        .object([
          ("sort", .object([("_id", .int(1))])), ("limit", .int(Int64(query.limit + 1))),
          ("projection", .object([("data", .int(1))])),
        ]))
      let shown = page.prefix(query.limit)
      let next = page.count > query.limit ? shown.last?.int("_id").map { "p\($0)" } : nil
      return CohortPage(total: total, users: shown.compactMap(MongoDocuments.view), nextCursor: next)
    }
  }

  public func analyze(_ query: AnalyzeQuery, categories: InterestCategories) async throws -> AudienceReport {
    try query.validate()
    if let cookie = query.cookie {
      return try await run("Analyze") { [self] s in
        guard let replay = try replayOfPerson(s, .cookie(cookie)) else {
          return try AudienceReport(users: [], query: query, categories: categories)
        }
        return try replay.replay.graph.analyze(query, categories: categories)
      }
    }
    let filter = MongoFilter.query(query.filter)
    return try await run("Analyze") { s in
      try AudienceReport(counts: try MongoAnalytics.counts(s, filter, wantsIncome: query.features.contains(.income)), query: query, categories: categories)
    }
  }

  public func stats() async throws -> StoreStats {
    try await run("Health") { s in
      let repeated = try s.aggregate(
        MongoDocuments.unique,
        [.object([("$group", .object([("_id", .null), ("n", .object([("$sum", .string("$q.repeated_n"))]))]))])])
      return StoreStats(
        profiles: try s.count(MongoDocuments.unique, .object([])), records: try s.count(MongoDocuments.users, .object([])),
        repeatedEmails: Int(repeated.first?.int("n") ?? 0))
    }
  }

  public func forget(_ person: PersonRef) async throws -> ProfileSummary? {
    let summary = try await write("Forget", wrote: { $0 != nil }) { [self] s -> ProfileSummary? in
      var erased: ProfileSummary?
      var emails = Set<String>()
      for _ in 0..<Self.maxAttempts {
        let resolver = MongoResolver(store: self, session: s)
        guard let doc = try resolver.settledPerson(person), let row = PersonRow(doc), let summary = MongoDocuments.summary(doc)
        else {
          if erased == nil, let refusal = try resolver.unlinkedEmail(person, command: "forget") { throw refusal }
          if erased != nil { resolver.resyncCohort(emails: emails) }
          return erased
        }
        try erase(s, cookies: summary.cookies)
        // The person's document goes last, and only as it was read: a record that joined the
        // person meanwhile (a new cookie) makes this round fail, and the next erases it too.
        let deleted = try s.write(.object([
          ("delete", .string(MongoDocuments.unique)),
          ("deletes", .array([.object([
            ("q", .object([("_id", .int(Int64(row.id))), ("v", .int(row.version))])), ("limit", .int(1)),
          ])])),
        ]))
        erased = summary
        emails.formUnion(summary.emails)
        if (deleted.int("n") ?? 0) == 1 {
          resolver.resyncCohort(emails: emails)
          return summary
        }
      }
      throw AudienceError(.unavailable, "MongoDB: the person kept changing while being erased; try again")
    }
    if let summary {
      logger.info("erased a profile", metadata: ["store.profile": "\(summary.id)", "store.records": "\(summary.records)"])
    }
    return summary
  }

  /// Deletes the raw records, cohort records and split marks of these cookies. Records first: if
  /// this stops half-way the person is still found, and forgetting again finishes.
  private func erase(_ s: MongoSession, cookies: [String]) throws {
    let list: JSONValue = .array(cookies.map { .string($0) })
    for (collection, field) in [
      (MongoDocuments.users, "data.cookie"), (MongoDocuments.cohort, "data.cookie"), (MongoDocuments.splits, "_id"),
    ] {
      try s.write(.object([
        ("delete", .string(collection)),
        ("deletes", .array([.object([("q", .object([(field, .object([("$in", list)]))])), ("limit", .int(0))])])),
      ]))
    }
  }

  public func split(cookie: String) async throws -> [ProfileSummary]? {
    try await write("Split", wrote: { $0 != nil }) { [self] s in try MongoResolver(store: self, session: s).split(cookie: cookie) }
  }

  public func export(_ person: PersonRef) async throws -> PersonExport? {
    try await run("Export") { [self] s in
      guard let (replay, summary) = try replayOfPerson(s, person), var export = replay.graph.export(.cookie(summary.cookies[0]))
      else {
        if let refusal = try MongoResolver(store: self, session: s).unlinkedEmail(person, command: "export") { throw refusal }
        return nil
      }
      export.summary = summary
      return export
    }
  }

  public func history(_ person: PersonRef) async throws -> PersonHistory? {
    try await run("History") { [self] s in
      // The links the stored person has: one the cap refused when its record came is shown so,
      // though the person's records replayed alone have room for it.
      guard let (replay, summary) = try replayOfPerson(s, person),
        var history = replay.graph.history(.cookie(summary.cookies[0]), linkedEmails: Set(summary.emails))
      else {
        if let refusal = try MongoResolver(store: self, session: s).unlinkedEmail(person, command: "history") { throw refusal }
        return nil
      }
      history.summary = summary
      return history
    }
  }

  /// A person's records replayed, with the stored summary.
  private func replayOfPerson(_ s: MongoSession, _ person: PersonRef) throws -> (replay: ProfileReplay, summary: ProfileSummary)? {
    let resolver = MongoResolver(store: self, session: s)
    guard let doc = try resolver.settledPerson(person), let summary = MongoDocuments.summary(doc), !summary.cookies.isEmpty
    else { return nil }
    return (try resolver.replay(cookies: summary.cookies, emails: summary.emails), summary)
  }
}

extension MongoStore {
  /// Waits for running calls and closes the connection pool (also done at graceful shutdown).
  public func close() async { await connection.close() }
}
