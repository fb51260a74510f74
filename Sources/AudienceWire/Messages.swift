public import AudienceCore

/// The protocol version this build speaks; sent in Hello.
public let audienceProtocolVersion: UInt32 = 1

/// A request envelope (`audience.v1.Request`).
public struct WireRequest: Hashable, Sendable {
  public var id: UInt64
  /// Relative deadline in milliseconds; 0 means none.
  public var timeoutMs: UInt32
  public var body: Body

  public enum Body: Hashable, Sendable {
    case hello(protocolVersion: UInt32, clientName: String)
    case ingest([RawRecord])
    /// An Ingest as the server received it, read without protobuf-c as a stream's batches are
    /// (`EncodedRecords`); answered as `.ingest` is.
    case ingestReceived(EncodedRecords)
    case getUser(cookie: String)
    case queryCohort(CohortQuery)
    case health
    case analyze(AnalyzeQuery)
    /// A live segment (nil: every profile); answered by a stream of events under this id.
    case watch(Filter?)
    /// Ends the request with this id (a watch) on this connection.
    case cancel(requestID: UInt64)
    /// Erases a person.
    case forget(PersonRef)
    /// Everything held about a person.
    case export(PersonRef)
    /// How a person's profile came to be.
    case history(PersonRef)
    /// Detaches a cookie into a profile of its own.
    case split(cookie: String)
    /// Opens an ingest stream on this request's id, asking for `window` batches in flight (0: the server's default).
    case ingestStream(window: UInt32)
    /// One batch of the ingest stream opened by request `stream`; acknowledged with `.ingest`.
    case ingestBatch(IngestBatch)
  }

  /// - Parameters:
  ///   - id: request id, unique among those in flight.
  ///   - timeoutMs: deadline in milliseconds, 0 for none.
  ///   - body: the method and its arguments.
  public init(id: UInt64, timeoutMs: UInt32 = 0, body: Body) {
    self.id = id
    self.timeoutMs = timeoutMs
    self.body = body
  }
}

/// A response envelope (`audience.v1.Response`).
public struct WireResponse: Hashable, Sendable {
  public var id: UInt64
  public var status: WireStatus
  /// Present when the status is OK.
  public var body: Body?

  public enum Body: Hashable, Sendable {
    case hello(HelloInfo)
    case ingest(IngestSummary)
    case getUser(UserView)
    case queryCohort(CohortPage)
    case health(HealthInfo)
    case analyze(AudienceReport)
    /// One event of a watch; many share the watch request's id.
    case watch(WatchEvent)
    /// Whether the cancelled request was running.
    case cancel(found: Bool)
    /// What Forget erased.
    case forget(ProfileSummary)
    case export(PersonExport)
    case history(PersonHistory)
    /// The profiles a split left: the split cookie's first.
    case split([ProfileSummary])
    /// An ingest stream is open: batches that may be unacknowledged at once.
    case ingestStream(window: Int)
  }

  /// - Parameters:
  ///   - id: the request's id.
  ///   - status: OK or the failure.
  ///   - body: the result when OK.
  public init(id: UInt64, status: WireStatus = .ok, body: Body? = nil) {
    self.id = id
    self.status = status
    self.body = body
  }
}

/// The server's answer to Hello.
public struct HelloInfo: Hashable, Sendable {
  public var protocolVersion: UInt32
  public var serverVersion: String
  public var maxFrameBytes: Int
  public var maxRecordsPerBatch: Int
  public var maxInFlight: Int

  /// - Parameters: the server's version and limits.
  public init(protocolVersion: UInt32, serverVersion: String, maxFrameBytes: Int, maxRecordsPerBatch: Int, maxInFlight: Int) {
    self.protocolVersion = protocolVersion
    self.serverVersion = serverVersion
    self.maxFrameBytes = maxFrameBytes
    self.maxRecordsPerBatch = maxRecordsPerBatch
    self.maxInFlight = maxInFlight
  }
}

/// The answer to Ingest: counts, and one outcome per record.
public struct IngestSummary: Hashable, Sendable {
  public var outcomes: [IngestOutcome]

  /// - Parameters:
  ///   - outcomes: one per record, in request order.
  public init(outcomes: [IngestOutcome]) { self.outcomes = outcomes }

  /// Stored records, new or changing a profile (duplicates count as accepted: they are stored).
  public var accepted: Int { outcomes.count - rejected }
  public var rejected: Int { outcomes.count { if case .rejected = $0 { true } else { false } } }
  public var duplicates: Int { outcomes.count { if case .duplicate = $0 { true } else { false } } }
  /// Stored, but with a link refused by the identifier cap.
  public var capped: Int { outcomes.count { if case .capped = $0 { true } else { false } } }
}

/// The answer to Health.
public struct HealthInfo: Hashable, Sendable {
  public var status: String
  public var serverVersion: String
  public var store: String
  public var stats: StoreStats
  public var uptimeSeconds: UInt64
  public var connections: Int

  /// - Parameters: the server's state.
  public init(status: String, serverVersion: String, store: String, stats: StoreStats, uptimeSeconds: UInt64, connections: Int) {
    self.status = status
    self.serverVersion = serverVersion
    self.store = store
    self.stats = stats
    self.uptimeSeconds = uptimeSeconds
    self.connections = connections
  }
}

/// One event of a live segment (`audience.v1.WatchEvent`).
public enum WatchEvent: Hashable, Sendable {
  /// The watch began; the segment has `total` profiles.
  case started(total: Int)
  /// The profile entered the segment; `profile` is how it looks now.
  case enter(ProfileID, profile: Record)
  /// The profile left the segment: `profile` is how it looks now, or nil when it was
  /// merged into `mergedInto`.
  case leave(ProfileID, profile: Record?, mergedInto: ProfileID?)
  /// The watch is over (cancelled or the server is stopping); nothing follows.
  case ended
  /// The profile was erased (Forget) while in the segment.
  case forgotten(ProfileID)

  /// The wire form of a store's change.
  /// - Parameters:
  ///   - change: what the store reported.
  public init(_ change: SegmentChange) {
    switch change {
    case .enter(let id, let profile): self = .enter(id, profile: profile)
    case .leave(let id, let profile, let into): self = .leave(id, profile: profile, mergedInto: into)
    case .forgotten(let id): self = .forgotten(id)
    }
  }
}

/// One batch of an ingest stream (`audience.v1.IngestBatch`).
public struct IngestBatch: Hashable, Sendable {
  /// The id of the request that opened the stream.
  public var stream: UInt64
  /// 0, 1, 2, ... in the order the batches must be applied.
  public var sequence: UInt64
  public var records: IngestRecords
  /// The stream ends after this batch.
  public var last: Bool

  public init(stream: UInt64, sequence: UInt64, records: [RawRecord], last: Bool = false) {
    self.init(stream: stream, sequence: sequence, records: .decoded(records), last: last)
  }

  public init(stream: UInt64, sequence: UInt64, records: IngestRecords, last: Bool = false) {
    self.stream = stream
    self.sequence = sequence
    self.records = records
    self.last = last
  }
}

/// A batch's records: decoded (made by a client, or decoded by protobuf-c), or as the server
/// received them, to be read field by field where they are validated (`EncodedRecords`).
/// Equal when they hold the same records, however they are held.
public enum IngestRecords: Hashable, Sendable {
  case decoded([RawRecord])
  case encoded(EncodedRecords)

  public var count: Int {
    switch self {
    case .decoded(let records): records.count
    case .encoded(let encoded): encoded.count
    }
  }

  /// The records as `RawRecord`s (received ones decoded, a byte that is not UTF-8 replaced).
  public var rawRecords: [RawRecord] {
    switch self {
    case .decoded(let records): records
    case .encoded(let encoded): encoded.rawRecords
    }
  }

  public static func == (a: Self, b: Self) -> Bool { a.rawRecords == b.rawRecords }
  public func hash(into hasher: inout Hasher) { hasher.combine(rawRecords) }
}
