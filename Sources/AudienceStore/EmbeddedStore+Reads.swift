public import AudienceCore
import Synchronization

/// The reads: profiles, cohorts, stamps, analytics and counts, each under the graph's lock (and,
/// for those that use the segment index, once the index thread has caught up: `withGraph`).
extension EmbeddedStore {
  public func user(cookie: String) async throws -> UserView? { userNow(cookie: cookie) }

  public func userNow(cookie: String) -> UserView? {
    withGraph(settling: false) { $0.user(cookie: cookie) }
  }

  public func queryCohort(_ query: CohortQuery, categories: InterestCategories) async throws -> CohortPage {
    if query.cookie != nil { try await recordsLoaded() }
    return try queryCohortNow(query, categories: categories)
  }

  public func queryCohortNow(_ query: CohortQuery, categories: InterestCategories) throws(AudienceError) -> CohortPage {
    // A cookie's cohort lists its raw records (routers ask `rawRecordsLoadedNow` first).
    if query.cookie != nil, let failure = waitForRecords() { throw failure }
    return try withGraph { g throws(AudienceError) in try g.query(query, categories: categories) }
  }

  public var rawRecordsLoadedNow: Bool { recordsReady.load(ordering: .acquiring) }

  public func userStampNow(cookie: String) -> ProfileStamp? {
    withGraph(settling: false) { $0.stamp(cookie: cookie) }
  }

  public func queryStampsNow(_ query: CohortQuery, categories: InterestCategories) throws(AudienceError) -> StampedPage {
    try withGraph { g throws(AudienceError) in try g.queryStamps(query, categories: categories) }
  }

  public func stampedViewsNow(_ ids: [ProfileID]) -> [StampedView?] {
    withGraph(settling: false) { $0.stampedViews(ids) }
  }

  public func analyze(_ query: AnalyzeQuery, categories: InterestCategories) async throws -> AudienceReport {
    // A cookie's cohort is read from its raw records.
    if query.cookie != nil { try await recordsLoaded() }
    return try withGraph { g throws(AudienceError) in try g.analyze(query, categories: categories) }
  }

  public func stats() async throws -> StoreStats { statsNow() }

  public func statsNow() -> StoreStats {
    withGraph(settling: false) { StoreStats(profiles: $0.profileCount, records: $0.recordCount, repeatedEmails: $0.repeatedEmailCount) }
  }
}
