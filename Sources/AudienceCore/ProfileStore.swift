/// Counts a store reports in Health.
public struct StoreStats: Hashable, Sendable {
  public var profiles: Int
  public var records: Int
  public var repeatedEmails: Int

  /// - Parameters:
  ///   - profiles: live profiles.
  ///   - records: stored raw records.
  ///   - repeatedEmails: emails seen with two or more cookies.
  public init(profiles: Int, records: Int, repeatedEmails: Int) {
    self.profiles = profiles
    self.records = records
    self.repeatedEmails = repeatedEmails
  }
}

/// What every store provides. The embedded store and the MongoDB store implement it and
/// pass the same conformance tests; the server talks only to this protocol.
///
/// Stores are also `Service`s (in their own modules) so that a `ServiceGroup` runs and
/// shuts them down; the core does not depend on ServiceLifecycle.
public protocol ProfileStore: Sendable {
  /// A short name for Health ("embedded", "mongodb").
  var kind: String { get }

  /// Durably stores records and resolves identities. Returns once every record is durable.
  /// - Parameters:
  ///   - records: normalized records; `createdAt` nil means "now".
  /// - Returns: one outcome per record, in order.
  func ingest(_ records: [Record]) async throws -> [IngestOutcome]

  /// The merged profile behind a cookie, or nil when the cookie is unknown.
  /// - Parameters:
  ///   - cookie: the cookie, trimmed.
  func user(cookie: String) async throws -> UserView?

  /// Answers a segmentation query.
  /// - Parameters:
  ///   - query: the query.
  ///   - categories: interest categories, for `category` predicates.
  func queryCohort(_ query: CohortQuery, categories: InterestCategories) async throws -> CohortPage

  /// The notebook's figures over a segment.
  /// - Parameters:
  ///   - query: filter, scope and parameters.
  ///   - categories: interest categories.
  func analyze(_ query: AnalyzeQuery, categories: InterestCategories) async throws -> AudienceReport

  /// Current counts.
  func stats() async throws -> StoreStats
}
