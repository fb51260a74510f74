public import AudienceCore
public import AudienceWire
public import NIOCore

/// Runs one decoded request against the store and builds its response. No sockets here:
/// the connection hands requests in, and tests can call it directly.
public struct RequestRouter: Sendable {
  public let store: any ProfileStore
  /// The same store when it answers reads at once (`handleNow`), else nil.
  let immediate: (any ImmediateProfileReads)?
  /// The same store when it takes ingest batches queued (`QueuedIngest`), else nil.
  let queued: (any QueuedIngest)?
  public let normalizer: RecordNormalizer
  public let configuration: ServerConfiguration
  let startedAt: ContinuousClock.Instant
  let connectionCount: @Sendable () -> Int
  /// Profiles' packed views, for `handleNow`.
  let views: PackedViewCache

  /// - Parameters:
  ///   - store: where profiles live.
  ///   - normalizer: validates records.
  ///   - configuration: limits.
  ///   - connectionCount: current connections, for Health.
  public init(
    store: any ProfileStore, normalizer: RecordNormalizer = RecordNormalizer(), configuration: ServerConfiguration,
    connectionCount: @escaping @Sendable () -> Int = { 0 }
  ) {
    self.store = store
    self.immediate = store as? any ImmediateProfileReads
    self.queued = store as? any QueuedIngest
    self.normalizer = normalizer
    self.configuration = configuration
    self.startedAt = .now
    self.connectionCount = connectionCount
    self.views = PackedViewCache(
      capacity: self.immediate == nil ? 0 : configuration.packedViewCache, maxBytes: configuration.packedViewCacheBytes)
  }

  /// The Hello answer: version and limits.
  public var hello: HelloInfo {
    HelloInfo(
      protocolVersion: audienceProtocolVersion, serverVersion: configuration.serverVersion,
      maxFrameBytes: configuration.maxFrameBytes, maxRecordsPerBatch: configuration.maxRecordsPerBatch,
      maxInFlight: configuration.maxInFlightPerConnection)
  }

  /// Handles a request; never throws: failures become a status.
  /// - Parameters:
  ///   - request: the decoded request.
  public func handle(_ request: WireRequest) async -> WireResponse {
    do {
      return WireResponse(id: request.id, body: try await body(for: request.body))
    } catch {
      return Self.failure(request.id, error)
    }
  }

  /// Answers at once, without suspending, the reads an immediate store serves from memory
  /// (GetUser, QueryCohort, Health): writes the response frame and returns true; false for any
  /// other request or store. Profiles' views come packed from `views` (packed and kept on a miss).
  /// - Parameters:
  ///   - request: the decoded request.
  ///   - buffer: where the response frame goes.
  public func handleNow(_ request: WireRequest, into buffer: inout ByteBuffer) -> Bool {
    guard let s = immediate else { return false }
    do {
      switch request.body {
      case .getUser(let cookie):
        let c = try Self.requiredCookie(cookie)
        guard let stamp = try s.userStampNow(cookie: c) else { throw Self.unknown(c) }
        if views.encodeGetUser(id: request.id, cookie: c, stamp: stamp, into: &buffer) { return true }
        if let view = try packedViews([stamp], s).views[0] {
          WireCodec.encodeGetUser(id: request.id, cookie: c, view: view, into: &buffer)
        } else {
          // Gone since the stamp was read (merged or forgotten): read it the plain way.
          guard let user = try s.userNow(cookie: c) else { throw Self.unknown(c) }
          WireCodec.encode(WireResponse(id: request.id, body: .getUser(user)), into: &buffer)
        }
      case .queryCohort(var query):
        if let c = query.cookie?.trimmingWhitespace() {
          // Raw records still loading (start-up): not on the connection's thread.
          guard s.rawRecordsLoadedNow else { return false }
          guard try s.userStampNow(cookie: c) != nil else { throw Self.unknown(c) }
          query.cookie = c
          let page = try s.queryCohortNow(query, categories: configuration.categories)
          WireCodec.encode(WireResponse(id: request.id, body: .queryCohort(page)), into: &buffer)
          return true
        }
        let page = try s.queryStampsNow(query, categories: configuration.categories)
        if views.encodePage(id: request.id, page, into: &buffer) { return true }
        let (views, current) = try packedViews(page.users, s)
        if !current {
          // A profile of the page changed between the two reads: answer from one read instead
          // (a page shows its users as they were when the filter chose them).
          let page = try s.queryCohortNow(query, categories: configuration.categories)
          WireCodec.encode(WireResponse(id: request.id, body: .queryCohort(page)), into: &buffer)
          return true
        }
        WireCodec.encodeCohortPage(
          id: request.id, total: page.total, users: views.map { $0! }, nextCursor: page.nextCursor, into: &buffer)
      case .health:
        WireCodec.encode(WireResponse(id: request.id, body: .health(health(try s.statsNow()))), into: &buffer)
      default:
        return false
      }
    } catch {
      WireCodec.encode(Self.failure(request.id, error), into: &buffer)
    }
    return true
  }

  /// Packed views of these profiles: kept ones, the others packed now and kept; nil where a
  /// profile is gone. `current`: every view is of the state its stamp names (one packed now may
  /// be newer; it is kept under its own stamp).
  private func packedViews(_ stamps: [ProfileStamp], _ s: any ImmediateProfileReads) throws(AudienceError) -> (views: [PackedView?], current: Bool) {
    var found = views.views(stamps)
    let missing = found.indices.filter { found[$0] == nil }
    guard !missing.isEmpty else { return (found, true) }
    var current = true
    let fresh = try s.stampedViewsNow(missing.map { stamps[$0].id })
    var packed: [(stamp: ProfileStamp, view: PackedView)] = []
    packed.reserveCapacity(missing.count)
    for (i, view) in zip(missing, fresh) {
      guard let view else {
        current = false
        continue
      }
      if view.stamp != stamps[i] { current = false }
      let p = PackedView(view)
      packed.append((view.stamp, p))
      found[i] = p
    }
    views.keep(packed)
    return (found, current)
  }

  static func failure(_ id: UInt64, _ error: any Error) -> WireResponse {
    switch error {
    case let error as AudienceError: WireResponse(id: id, status: WireStatus(error))
    case let status as WireStatus: WireResponse(id: id, status: status)
    default: WireResponse(id: id, status: WireStatus(.internal, "\(error)"))
    }
  }

  private static func requiredCookie(_ cookie: String) throws(AudienceError) -> String {
    let c = cookie.trimmingWhitespace()
    guard !c.isEmpty else { throw AudienceError.invalidField("cookie", "is required") }
    return c
  }

  private static func unknownPerson(_ person: PersonRef) -> AudienceError {
    switch person {
    case .cookie(let c): unknown(c)
    case .email: AudienceError(.notFound, "no user with that email")
    }
  }

  private static func unknown(_ cookie: String) -> AudienceError { AudienceError(.notFound, "no user with cookie \"\(cookie)\"") }

  private func health(_ stats: StoreStats) -> HealthInfo {
    let elapsed = ContinuousClock.now - startedAt
    // "serving", or what a monitor should see while writes fail (a full disk): reads go on.
    let status = store.degradation.map { "degraded: \($0)" } ?? "serving"
    return HealthInfo(
      status: status, serverVersion: configuration.serverVersion, store: store.kind, stats: stats,
      uptimeSeconds: UInt64(max(0, elapsed.components.seconds)), connections: connectionCount())
  }

  private func body(for body: WireRequest.Body) async throws -> WireResponse.Body {
    switch body {
    case .hello:
      return .hello(hello)
    case .ingest(let raws):
      return .ingest(try await ingest(.decoded(raws)))
    case .ingestReceived(let received):
      return .ingest(try await ingest(.encoded(received)))
    case .getUser(let cookie):
      let c = try Self.requiredCookie(cookie)
      guard let user = try await store.user(cookie: c) else { throw Self.unknown(c) }
      return .getUser(user)
    case .queryCohort(var query):
      if let c = query.cookie?.trimmingWhitespace() {
        guard try await store.user(cookie: c) != nil else { throw Self.unknown(c) }
        query.cookie = c
      }
      return .queryCohort(try await store.queryCohort(query, categories: configuration.categories))
    case .analyze(var query):
      if let c = query.cookie?.trimmingWhitespace() {
        guard try await store.user(cookie: c) != nil else { throw Self.unknown(c) }
        query.cookie = c
      }
      try query.validate()
      return .analyze(try await store.analyze(query, categories: configuration.categories))
    case .forget(let person):
      guard let erased = try await store.forget(person) else { throw Self.unknownPerson(person) }
      views.evict(erased.id)  // never served again anyway (its stamp is gone); not kept either
      return .forget(erased)
    case .export(let person):
      guard let export = try await store.export(person) else { throw Self.unknownPerson(person) }
      return .export(export)
    case .history(let person):
      guard let history = try await store.history(person) else { throw Self.unknownPerson(person) }
      return .history(history)
    case .split(let cookie):
      guard let profiles = try await store.split(cookie: cookie) else { throw Self.unknown(cookie) }
      return .split(profiles)
    case .watch, .cancel, .ingestStream, .ingestBatch:
      // Streams and cancellation belong to the connection (AudienceServer+Watch.swift, IngestStreams.swift).
      throw AudienceError(.internal, "Watch, Cancel and ingest streams are handled by the connection, not the router")
    case .health:
      return .health(health(try await store.stats()))
    }
  }

  /// Opens a live segment on the store.
  /// - Parameters:
  ///   - filter: the segment; nil is every profile.
  public func watch(_ filter: Filter?) async throws -> SegmentWatch {
    try await store.watch(filter, categories: configuration.categories)
  }

  /// Validates every record, stores the valid ones, and answers one outcome per record.
  private func ingest(_ records: consuming IngestRecords) async throws -> IngestSummary {
    let count = records.count
    guard count > 0 else { throw AudienceError.invalidField("ingest.records", "is empty") }
    guard count <= configuration.maxRecordsPerBatch else {
      throw AudienceError(
        .resourceExhausted,
        "ingest.records: batch of \(count) records exceeds the limit of \(configuration.maxRecordsPerBatch); split it")
    }
    return try await store([prepare(records)])[0]
  }

  /// One batch's records validated: what the store is to take, and the outcome of each record
  /// refused already.
  struct PreparedBatch: Sendable {
    var outcomes: [IngestOutcome?]
    var valid: [Record]
    /// Where each of `valid` is in the batch.
    var positions: [Int]
    /// `ContentID(of:)` of each of `valid`, for a `QueuedIngest` store (else empty).
    var contentIDs: [ContentID]
    let identify: Bool

    /// Room for a batch of `count` records; `identify`: take their content ids.
    init(count: Int, identify: Bool) {
      outcomes = .init(repeating: nil, count: count)
      valid = []
      valid.reserveCapacity(count)
      positions = []
      positions.reserveCapacity(count)
      contentIDs = []
      if identify { contentIDs.reserveCapacity(count) }
      self.identify = identify
    }

    /// Takes a valid record, found at `position` in the batch. Each is identified here, not by a
    /// second pass.
    mutating func take(_ record: consuming Record, at position: Int) {
      if identify { contentIDs.append(ContentID(of: record)) }
      valid.append(consume record)
      positions.append(position)
    }

    /// Takes the record `normalize` makes of the one at `position`, or its refusal.
    mutating func take(at position: Int, _ normalize: () throws(AudienceError) -> Record) {
      do throws(AudienceError) {
        take(try normalize(), at: position)
      } catch {
        outcomes[position] = .rejected(error.located("record \(position)"))
      }
    }
  }

  /// Validates one batch's records (CPU work only: ingest streams run it as each batch arrives,
  /// while earlier batches are being committed).
  /// - Parameters:
  ///   - raws: the batch's records; when the caller gives up the array (its last use), each
  ///     record is moved out to be validated rather than copied.
  func prepare(_ raws: consuming [RawRecord]) -> PreparedBatch {
    var batch = PreparedBatch(count: raws.count, identify: queued != nil)
    // Each raw record is moved out for the call: read in place, the optimizer would copy it (a
    // retain and a release of each string) for the throwing call.
    var raws = raws
    raws.forEachMovedOut { i, raw in batch.take(at: i) { () throws(AudienceError) in try normalizer.normalize(raw) } }
    return batch
  }

  /// As `prepare(_: [RawRecord])`, for a batch's records as received or as decoded.
  func prepare(_ records: consuming IngestRecords) -> PreparedBatch {
    let encoded: EncodedRecords
    switch consume records {
    case .decoded(let raws): return prepare(raws)
    case .encoded(let received): encoded = received
    }
    var batch = PreparedBatch(count: encoded.count, identify: queued != nil)
    encoded.forEach { i, fields in
      batch.take(at: i) { () throws(AudienceError) in try normalizer.normalize(fields) }
    } unreadable: { i, _ in
      batch.outcomes[i] = .rejected(AudienceError(.invalidArgument, "record \(i): could not be read"))
    }
    return batch
  }

  /// Stores validated batches with one store call (one durable commit), in order.
  private func store(_ prepared: [PreparedBatch]) async throws -> [IngestSummary] {
    let valid = Self.joined(prepared, \.valid)
    return Self.summaries(prepared, valid.isEmpty ? [] : try await store.ingest(valid))
  }

  /// Queues validated batches with the store, to be stored in one commit after everything queued
  /// before (a `QueuedIngest` store), or stores them now on a task (any other store: the caller
  /// queues the next only once `done` was called).
  /// - Parameters:
  ///   - prepared: the batches, each from `prepare`; their records are moved to the store (a
  ///     caller that still holds one of these batches makes the store copy its records).
  ///   - done: one summary per batch, or the error; on the store's writer thread or a task.
  func queueIngest(_ prepared: consuming [PreparedBatch], done: @escaping @Sendable (Result<[IngestSummary], any Error>) -> Void) {
    guard let queued else {
      let prepared = prepared
      Task {
        do { done(.success(try await store(prepared))) } catch { done(.failure(error)) }
      }
      return
    }
    var prepared = prepared
    let groups = Self.takeValid(&prepared)
    let ids = prepared.map(\.contentIDs)
    let answered = prepared
    queued.queueIngest(groups: consume groups, contentIDs: ids) { result in
      done(result.map { Self.summaries(answered, $0) })
    }
  }

  /// Every batch's valid records, moved out of the batches (left empty): the store takes them
  /// group by group, so no record is moved to join them.
  static func takeValid(_ prepared: inout [PreparedBatch]) -> [[Record]] {
    prepared.indices.map { i in
      var records: [Record] = []
      swap(&records, &prepared[i].valid)
      return records
    }
  }

  /// One field of every batch, end to end (a lone batch's array as it is, not copied).
  private static func joined<T>(_ prepared: [PreparedBatch], _ field: KeyPath<PreparedBatch, [T]>) -> [T] {
    prepared.count == 1 ? prepared[0][keyPath: field] : prepared.flatMap { $0[keyPath: field] }
  }

  /// Each batch's summary: its refused records' outcomes and the store's, in batch order.
  private static func summaries(_ prepared: [PreparedBatch], _ stored: [IngestOutcome]) -> [IngestSummary] {
    var next = stored[...]
    return prepared.map { batch in
      var outcomes = batch.outcomes
      for i in batch.positions { outcomes[i] = next.removeFirst() }
      return IngestSummary(outcomes: outcomes.map { $0! })
    }
  }
}
