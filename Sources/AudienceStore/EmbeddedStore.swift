public import AudienceCore
internal import Glibc
public import Logging
import Dispatch
import NIOPosix
public import ServiceLifecycle
import Synchronization

/// The default store: every raw record in a local SQLite database (WAL, `synchronous=FULL`),
/// the identity graph in memory, rebuilt from the records at start-up.
///
/// Writes use group commit: the first writer to arrive becomes the leader and commits,
/// in one transaction and one fsync, every batch that queued up while the previous
/// commit was running. A batch is acknowledged only after its transaction is durable,
/// and only then becomes visible to readers, so an acknowledged record survives `kill -9`
/// and a query sent after an acknowledgement sees it.
public final class EmbeddedStore: ImmediateProfileReads, QueuedIngest, Service {
  public let kind = "embedded"
  let logger: Logger
  let db: SQLiteDatabase
  let directory: String
  /// The device and inode of `audience.db` as opened (`checkDatabaseFile`).
  let databaseFile: (device: UInt64, inode: UInt64)?
  /// The data directory, held (flock) while the store is open; and `audience.lock`, as older
  /// builds lock it (-1 when it cannot be opened).
  private let lock: Int32
  private let lockFile: Int32
  /// Shared by reads that only look (`readLiveGraph`), held alone by everything else.
  let graph: GraphLock
  /// Whether the start restored the shutdown snapshot (else it replayed the records).
  let restoredFromSnapshot: Bool
  /// Entered while a restored graph's raw records load in the background (`loadRecords`).
  let recordsReading = DispatchGroup()
  /// The raw records are in the graph (`IdentityGraph.rawRecordsLoaded`): what needs them
  /// waits on `recordsReading` until then.
  let recordsReady = Atomic<Bool>(true)
  /// Set when they could not be loaded at all: what needs them fails with it.
  let recordsFailure = Mutex<AudienceError?>(nil)
  /// A storage write failed since the start: the database may hold what the graph does not, so
  /// no snapshot is saved at shutdown.
  let storageFailed = Atomic<Bool>(false)
  /// Why the last commit or erasure failed, until one succeeds (`writeFailure`).
  let lastWriteFailure = Mutex<String?>(nil)
  /// What SQLite's quick_check found wrong with the database after a restore (`loadRecords`).
  let databaseDamage = Mutex<String?>(nil)
  public var writeFailure: String? { lastWriteFailure.withLock { $0 } }
  /// Failing writes, or else damage `checkDatabase` found (writes go on then).
  public var degradation: String? { failingWrites ?? databaseDamage.withLock { $0 } }
  /// Set when a failed write left a graph that could not be rebuilt from the database: the graph
  /// may hold records the database does not, so from then on every read and write fails with
  /// this error until a restart (`withLiveGraph`, the leader's loop).
  let graphLost = Mutex<AudienceError?>(nil)
  /// Set when an erasure's checkpoint could not empty the log (a reader held it): the erased
  /// bytes may still be in `audience.db-wal` until a later checkpoint (the next erasure's, or
  /// the one closing the database).
  let erasureCheckpointOwed = Atomic<Bool>(false)
  /// A retry of that checkpoint is scheduled (`retryCheckpointLater`): one at a time.
  let checkpointRetryScheduled = Atomic<Bool>(false)
  /// Checkpoints an erasure (or its retry) has tried (`emptyLogAfterErasure`).
  let checkpointsTried = Atomic<Int>(0)
  /// Commits begun: writes have paused while it stays the same (`catchUpWhenIdle`).
  let commitsMade = Atomic<Int>(0)
  /// Tests: the next commit's database write fails with this.
  let writeFault = Mutex<AudienceError?>(nil)
  let writer: Mutex<WriterState>
  let pool: NIOThreadPool
  /// One thread: a commit's database write, while the leader applies the same records to the graph.
  let durable: NIOThreadPool
  /// One thread: a large commit's index changes, while the leader applies the next records.
  let indexer: NIOThreadPool
  let watchers = Mutex(WatcherTable())
  let clock: @Sendable () -> Timestamp
  /// The segment index a commit left detached, still being brought up to date on the `indexer`
  /// thread; nil when it is in the graph. Used only under the graph lock.
  nonisolated(unsafe) var indexBehind: IndexHandoff?
  /// `RecordBatches.insertSQL`, used only by the current commit's write (one thread at a time,
  /// ordered by the `writer` lock).
  nonisolated(unsafe) var insert: SQLiteStatement?
  /// The durable thread's buffer for a row's JSON, kept between writes (used only there).
  nonisolated(unsafe) var batchText: [UInt8] = []
  /// Records per `record_batches` row: a commit larger than this is stored in several rows (an
  /// erasure writes a record's whole row again). Tests make it small.
  nonisolated(unsafe) var recordsPerRow = 65_536
  /// A row takes no more records once its JSON passes this many bytes (SQLite refuses a value
  /// past 1e9 bytes, and an erasure decodes and writes again a whole row). Tests make it small.
  nonisolated(unsafe) var rowBytes = 16 << 20
  /// How long after an erasure's checkpoint could not empty the log the leader tries again (and
  /// again, until it can). Tests make it short.
  nonisolated(unsafe) var checkpointRetryAfter = DispatchTimeInterval.seconds(30)

  /// Live segments. Updated under the graph lock (graph first, then this lock), so a
  /// watcher sees every commit after the one it started on, exactly once.
  struct WatcherTable {
    struct Watcher {
      var membership: SegmentMembership
      let queue: WatchQueue
    }
    var next = 0
    var live: [Int: Watcher] = [:]
    var closed = false
  }

  /// Changes a watcher may have queued unread before it is ended with RESOURCE_EXHAUSTED. A
  /// change holds the profile's view (about 400 bytes): 100,000 let a connection that opened 64
  /// watches and read none hold 2.5 GB during a load (and hand-outs under the lock slowed it).
  public static let watchBufferLimit = 10_000

  /// Where the graph's arrays map pages ahead of their end (`Prefault.mapInBackground`).
  static let prefaultQueue = DispatchQueue(label: "audience.prefault", qos: .utility)

  /// Opens the store in `directory` (created if missing) and rebuilds the identity graph
  /// from the stored records. Blocking: call it before serving.
  /// - Parameters:
  ///   - directory: where `audience.db` lives.
  ///   - limits: record and profile bounds.
  ///   - logger: where to log.
  ///   - clock: the time given to records without `created_at`.
  ///   - threadNice: the priorities of the store's own threads.
  public convenience init(
    directory: String, limits: RecordLimits = .default, logger: Logger,
    clock: @escaping @Sendable () -> Timestamp = EmbeddedStore.wallClock, threadNice: ThreadNice = .standard
  ) throws {
    try self.init(directory: directory, limits: limits, logger: logger, clock: clock, recordsHold: nil, threadNice: threadNice)
  }

  /// - Parameters:
  ///   - recordsHold: when set, a restore's raw records start loading only once it is signalled
  ///     (tests see what waits for them).
  init(
    directory: String, limits: RecordLimits, logger: Logger, clock: @escaping @Sendable () -> Timestamp,
    recordsHold: DispatchSemaphore?, threadNice: ThreadNice = .standard
  ) throws {
    if mkdir(directory, 0o750) != 0 && errno != EEXIST {
      throw AudienceError(.unavailable, "cannot create data directory \(directory): \(String(cString: strerror(errno)))")
    }
    self.logger = logger
    self.clock = clock
    // One server per data directory: a second one would write records the first's graph (and
    // its shutdown snapshot) never sees.
    var recordsLoader: GraphSnapshotFile.RecordsLoader?
    // The directory itself is locked: a lock file can be deleted while it is held, and a second
    // server would then lock a new one (`audience.lock` is still locked too, for older builds).
    let lock = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard lock >= 0 else {
      throw AudienceError(.unavailable, "cannot open data directory \(directory): \(String(cString: strerror(errno)))")
    }
    let lockFile = open(directory + "/audience.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
    guard flock(lock, LOCK_EX | LOCK_NB) == 0, lockFile < 0 || flock(lockFile, LOCK_EX | LOCK_NB) == 0 else {
      Glibc.close(lock)
      if lockFile >= 0 { Glibc.close(lockFile) }
      throw AudienceError(.unavailable, "data directory \(directory) is in use by another audienced (it is locked)")
    }
    self.lock = lock
    self.lockFile = lockFile
    let dbPath = directory + "/audience.db"
    // The database is the truth: without it a snapshot is only a copy that cannot be checked
    // (its token is in the database), and starting empty would delete it. Refused instead.
    if access(dbPath, F_OK) != 0, access(directory + "/" + GraphSnapshotFile.name, F_OK) == 0 {
      Glibc.close(lock)
      if lockFile >= 0 { Glibc.close(lockFile) }
      throw AudienceError(
        .unavailable,
        "\(dbPath) is missing but \(directory)/\(GraphSnapshotFile.name) is there: restore the database from a backup (docs/OPERATIONS.md), or remove the snapshot to start empty")
    }
    let db: SQLiteDatabase
    do {
      db = try SQLiteDatabase(path: dbPath)
      // Records are personal data: the database (and so its -wal and -shm, which SQLite creates
      // with its mode) is the server's alone, as the snapshot is (a umask of 022 made it 0644).
      for suffix in ["", "-wal", "-shm"] { _ = chmod(dbPath + suffix, 0o600) }
    } catch {
      Glibc.close(lock)
      if lockFile >= 0 { Glibc.close(lockFile) }
      throw error
    }
    do {
      // secure_delete: an erased person's bytes are overwritten, not left in free pages.
      // cache_size 8 MiB: `record_batches` rows are appended in seq order (no secondary index to
      // update at random; the other tables are small) and every read of records is served by the
      // graph, so the cache needs little more than a commit's pages and the B-trees' inner pages;
      // 64 MiB only grew the server by 59 MiB in a 1,000,000-record load (page by page) for no
      // speed.
      // page_size 16 KiB (a new database only; an existing one keeps its own): a commit's row is
      // megabytes of JSON in a chain of overflow pages, each page a WAL frame written, then copied
      // by the checkpoint, a system call or two each. 4 -> 16 KiB took the durable thread from
      // 0.5 to 0.3 s per 1,000,000 records; 32 and 64 KiB saved no more there but made a
      // one-record commit (a page per table it touches) 11% slower (docs/BENCHMARKS.md).
      try db.execute("PRAGMA page_size=16384; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000; PRAGMA secure_delete=ON; PRAGMA cache_size=-8192;")
      try db.execute(RecordBatches.schema)
      let version = try db.prepare("SELECT value FROM meta WHERE key = 'schema_version'")
      if try version.step(), let v = version.text(0).flatMap(Int.init), v > RecordBatches.schemaVersion {
        throw AudienceError(
          .unavailable,
          "\(db.path) was written by a newer audienced (schema version \(v); this one reads up to \(RecordBatches.schemaVersion))")
      }
      version.reset()
      try db.execute(ProfileCreationLog.schema)
      try db.execute(CapRefusalLog.schema)
      if try LegacyUsersTable.present(in: db) {
        logger.info("moving the users table's rows into record_batches (schema version 2)")
        try db.transaction { () throws(AudienceError) in try LegacyUsersTable.migrate(db) }
      }
      try db.execute(RecordBatches.view)
      try db.execute(RecordBatches.changeCounter)
      try db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', '\(RecordBatches.schemaVersion)')")
      let (g, loader) = try Self.restoreOrReplay(db, directory: directory, limits: limits, logger: logger, reading: recordsReading)
      self.restoredFromSnapshot = loader != nil
      self.graph = GraphLock(g)
      recordsLoader = loader
      if loader != nil { recordsReady.store(false, ordering: .relaxed) }
      self.insert = try db.prepare(RecordBatches.insertSQL)
      logger.info(
        "embedded store opened",
        metadata: ["store.path": "\(db.path)", "store.records": "\(g.recordCount)", "store.profiles": "\(g.profileCount)"])
    } catch {
      // The restore left the snapshot's zeroing until its records were read: they never will be.
      if recordsLoader != nil { recordsReading.leave() }
      db.close()
      Glibc.close(lock)
      if lockFile >= 0 { Glibc.close(lockFile) }
      throw error
    }
    self.db = db
    self.directory = directory
    self.databaseFile = Self.fileIdentity(dbPath)
    self.writer = Mutex(WriterState())
    self.pool = NIOThreadPool(numberOfThreads: 1)
    pool.start()
    self.durable = NIOThreadPool(numberOfThreads: 1)
    durable.start()
    self.indexer = NIOThreadPool(numberOfThreads: 1)
    indexer.start()
    setNice(threadNice)
    // The graph's arrays map their next pages on a queue of their own rather than on the
    // leader (Prefault.swift; one queue for the process).
    Prefault.mapInBackground(using: { work in Self.prefaultQueue.async(execute: work) })
    if let recordsLoader {
      DispatchQueue.global(qos: .userInitiated).async {
        recordsHold?.wait()
        self.loadRecords(recordsLoader)
      }
    }
  }

  /// Wall-clock time, the default clock.
  public static let wallClock: @Sendable () -> Timestamp = {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Timestamp(seconds: Int64(ts.tv_sec))
  }

  /// Runs until graceful shutdown, then finishes pending writes and closes the database.
  public func run() async throws {
    try? await gracefulShutdown()
    await close()
  }

  /// Refuses new writes, waits for pending ones to be committed, closes the database.
  public func close() async {
    try? await recordsLoaded()  // the snapshot saved below holds them (none is saved if they failed)
    let open = watchers.withLock { table in
      table.closed = true
      defer { table.live = [:] }
      return table.live.values.map(\.queue)
    }
    for queue in open { queue.finish() }
    await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
      let busy = writer.withLock { state -> Bool in
        state.closed = true
        if state.leaderActive { state.idle.append(waiter); return true }
        return false
      }
      if !busy { waiter.resume() }
    }
    let alreadyClosed = writer.withLock { state -> Bool in
      defer { state.idle = [] }
      if insert == nil { return true }
      insert = nil
      return false
    }
    if alreadyClosed { return }
    flushProfileCreations()
    saveSnapshot()
    db.close()
    Glibc.close(lock)
    if lockFile >= 0 { Glibc.close(lockFile) }
    try? await pool.shutdownGracefully()
    try? await durable.shutdownGracefully()
    try? await indexer.shutdownGracefully()
    logger.info("embedded store closed", metadata: ["store.path": "\(db.path)"])
  }
}
