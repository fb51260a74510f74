public import AudienceCore
import NIOPosix
import Synchronization

/// The reads: profiles, cohorts, stamps, analytics and counts, each sharing the graph's lock with
/// the other reads (and, for those that use the segment index, once the index thread has caught
/// up), and refused once the graph is lost (`readLiveGraph`).
extension EmbeddedStore {
  public func user(cookie: String) async throws -> UserView? { try userNow(cookie: cookie) }

  public func userNow(cookie: String) throws(AudienceError) -> UserView? {
    try readLiveGraph(settling: false) { $0.user(cookie: cookie) }
  }

  public func queryCohort(_ query: CohortQuery, categories: InterestCategories) async throws -> CohortPage {
    if query.cookie != nil { try await recordsLoaded() }
    return try queryCohortNow(query, categories: categories)
  }

  public func queryCohortNow(_ query: CohortQuery, categories: InterestCategories) throws(AudienceError) -> CohortPage {
    // A cookie's cohort lists its raw records (routers ask `rawRecordsLoadedNow` first).
    if query.cookie != nil, let failure = waitForRecords() { throw failure }
    return try readLiveGraph { g throws(AudienceError) in try g.query(query, categories: categories) }
  }

  public var rawRecordsLoadedNow: Bool { recordsReady.load(ordering: .acquiring) }

  public func userStampNow(cookie: String) throws(AudienceError) -> ProfileStamp? {
    try readLiveGraph(settling: false) { $0.stamp(cookie: cookie) }
  }

  public func queryStampsNow(_ query: CohortQuery, categories: InterestCategories) throws(AudienceError) -> StampedPage {
    try readLiveGraph { g throws(AudienceError) in try g.queryStamps(query, categories: categories) }
  }

  public func stampedViewsNow(_ ids: [ProfileID]) throws(AudienceError) -> [StampedView?] {
    try readLiveGraph(settling: false) { $0.stampedViews(ids) }
  }

  /// On a thread of NIO's blocking pool, not one of Swift's cooperative threads: an analysis
  /// waits for the graph's lock and takes up to a second at a million profiles, and a connection
  /// may send 64 at once. On the cooperative threads (two here) they starved every other task,
  /// SIGTERM's handler included (a shutdown waited minutes). One whose task is cancelled (its
  /// deadline passed) before its turn is not run.
  public func analyze(_ query: AnalyzeQuery, categories: InterestCategories) async throws -> AudienceReport {
    // A cookie's cohort is read from its raw records.
    if query.cookie != nil { try await recordsLoaded() }
    let cancelled = Mutex(false)
    return try await withTaskCancellationHandler {
      try await NIOThreadPool.singleton.runIfActive { () throws -> AudienceReport in
        if cancelled.withLock({ $0 }) { throw CancellationError() }
        return try self.readLiveGraph { g throws(AudienceError) in try g.analyze(query, categories: categories) }
      }
    } onCancel: {
      cancelled.withLock { $0 = true }
    }
  }

  public func stats() async throws -> StoreStats { try statsNow() }

  public func statsNow() throws(AudienceError) -> StoreStats {
    try readLiveGraph(settling: false) { StoreStats(profiles: $0.profileCount, records: $0.recordCount, repeatedEmails: $0.repeatedEmailCount) }
  }
}
