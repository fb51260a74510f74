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

  /// Opens a live segment: its size now, then every profile entering or leaving it
  /// because of records committed afterwards.
  /// - Parameters:
  ///   - filter: the segment; nil is every profile.
  ///   - categories: interest categories, for `category` predicates.
  func watch(_ filter: Filter?, categories: InterestCategories) async throws -> SegmentWatch

  /// Erases a person durably: every raw record of their profile, and the profile from every
  /// index, cohort and live segment. Returns what was erased, or nil when the person is unknown.
  /// - Parameters:
  ///   - person: a cookie or an email.
  func forget(_ person: PersonRef) async throws -> ProfileSummary?

  /// Detaches a wrongly merged cookie into a profile of its own, durably: from now on its records
  /// do not link their emails. Returns the profiles its old profile became (the cookie's first),
  /// or nil when the cookie is unknown.
  /// - Parameters:
  ///   - cookie: the cookie.
  func split(cookie: String) async throws -> [ProfileSummary]?

  /// Everything held about a person, or nil when unknown.
  /// - Parameters:
  ///   - person: a cookie or an email.
  func export(_ person: PersonRef) async throws -> PersonExport?

  /// How a person's profile came to be, or nil when unknown.
  /// - Parameters:
  ///   - person: a cookie or an email.
  func history(_ person: PersonRef) async throws -> PersonHistory?

  /// Why the last write failed, while no write has succeeded since (a full disk); nil when
  /// writes succeed. Health says so.
  var writeFailure: String? { get }

  /// What Health says after "degraded: " (writes failing, a damaged database); nil when serving.
  var degradation: String? { get }
}

extension ProfileStore {
  public var writeFailure: String? { nil }
  /// That writes fail and why, as Health says it (nil while they succeed).
  public var failingWrites: String? { writeFailure.map { "writes are failing (\($0))" } }
  /// By default, `failingWrites`.
  public var degradation: String? { failingWrites }
}

/// A store whose reads are answered from memory at once: the server then answers them on the
/// connection's own thread instead of in a task (no thread hop, one write per burst).
public protocol ImmediateProfileReads: ProfileStore {
  /// As `user(cookie:)`, without suspending.
  func userNow(cookie: String) throws(AudienceError) -> UserView?
  /// As `queryCohort(_:categories:)`, without suspending.
  func queryCohortNow(_ query: CohortQuery, categories: InterestCategories) throws(AudienceError) -> CohortPage
  /// As `stats()`, without suspending.
  func statsNow() throws(AudienceError) -> StoreStats
  /// The stamp of the profile behind a cookie (nil: unknown cookie), for readers that keep
  /// encoded views: an equal stamp means an unchanged view.
  func userStampNow(cookie: String) throws(AudienceError) -> ProfileStamp?
  /// As `queryCohortNow` for a query without `cookie`, as stamps instead of views.
  func queryStampsNow(_ query: CohortQuery, categories: InterestCategories) throws(AudienceError) -> StampedPage
  /// The current views of these profiles, nil where one is gone.
  func stampedViewsNow(_ ids: [ProfileID]) throws(AudienceError) -> [StampedView?]
  /// False while the store still loads raw records at start-up: a cookie-scoped
  /// `queryCohortNow` would wait for them, so ask the suspending `queryCohort` instead.
  var rawRecordsLoadedNow: Bool { get }
}

/// A store that takes ingest batches in the order they are queued and commits them one after the
/// other without the caller waiting in between (the embedded store's writer): an ingest stream
/// queues its next batches while the previous ones are being committed, so the writer never
/// waits for the stream.
public protocol QueuedIngest: ProfileStore {
  /// Queues validated records to be stored after everything queued before; returns at once.
  /// - Parameters:
  ///   - groups: the records, validated, in groups stored end to end (each batch of a stream
  ///     as it was validated: not joined into one array first); given up by the caller: the
  ///     store moves them.
  ///   - contentIDs: `ContentID(of:)` of each record, group by group (computed by the caller,
  ///     off the writer).
  ///   - done: called once, on the store's writer thread, with one outcome per record (all the
  ///     groups' end to end) once they are durable and visible, or with the error; in the order
  ///     the calls were queued (a call refused because the store is closing is called back at
  ///     once).
  func queueIngest(
    groups: consuming [[Record]], contentIDs: [[ContentID]],
    done: @escaping @Sendable (Result<[IngestOutcome], any Error>) -> Void)
}

extension QueuedIngest {
  /// Queues one group of records (see `queueIngest(groups:contentIDs:done:)`).
  public func queueIngest(
    _ records: consuming [Record], contentIDs: [ContentID],
    done: @escaping @Sendable (Result<[IngestOutcome], any Error>) -> Void
  ) {
    queueIngest(groups: [records], contentIDs: [contentIDs], done: done)
  }
}

extension ProfileStore {
  public func watch(_ filter: Filter?, categories: InterestCategories) async throws -> SegmentWatch {
    throw AudienceError(.unimplemented, "the \(kind) store does not serve live segments")
  }

  public func forget(_ person: PersonRef) async throws -> ProfileSummary? {
    throw AudienceError(.unimplemented, "the \(kind) store cannot erase people yet")
  }

  public func split(cookie: String) async throws -> [ProfileSummary]? {
    throw AudienceError(.unimplemented, "the \(kind) store cannot split profiles yet")
  }

  public func export(_ person: PersonRef) async throws -> PersonExport? {
    throw AudienceError(.unimplemented, "the \(kind) store cannot export people yet")
  }

  public func history(_ person: PersonRef) async throws -> PersonHistory? {
    throw AudienceError(.unimplemented, "the \(kind) store cannot show histories yet")
  }
}

/// A live segment opened by `ProfileStore.watch`.
public struct SegmentWatch: Sendable {
  /// The segment's size when the watch began.
  public let total: Int
  /// The changes, in commit order (a reader far behind gets, as it catches up, one change per
  /// profile that changed meanwhile: SegmentMembership+Backlog.swift). Finishes when `stop()` is
  /// called or the store closes. Call `stop()` when done reading (a watch whose stream is let go
  /// of ends too).
  public let changes: AsyncThrowingStream<SegmentChange, any Error>
  private let onStop: @Sendable () -> Void

  /// - Parameters:
  ///   - total: the segment's size now.
  ///   - changes: the stream of changes.
  ///   - stop: ends the stream.
  public init(total: Int, changes: AsyncThrowingStream<SegmentChange, any Error>, stop: @escaping @Sendable () -> Void) {
    self.total = total
    self.changes = changes
    self.onStop = stop
  }

  /// Ends the watch: the stream finishes after the changes already queued.
  public func stop() { onStop() }
}
