public import AudienceCore
public import AudienceWire

/// Runs one decoded request against the store and builds its response. No sockets here:
/// the connection hands requests in, and tests can call it directly.
public struct RequestRouter: Sendable {
  public let store: any ProfileStore
  public let normalizer: RecordNormalizer
  public let configuration: ServerConfiguration
  let startedAt: ContinuousClock.Instant
  let connectionCount: @Sendable () -> Int

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
    self.normalizer = normalizer
    self.configuration = configuration
    self.startedAt = .now
    self.connectionCount = connectionCount
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
    } catch let error as AudienceError {
      return WireResponse(id: request.id, status: WireStatus(error))
    } catch let status as WireStatus {
      return WireResponse(id: request.id, status: status)
    } catch {
      return WireResponse(id: request.id, status: WireStatus(.internal, "\(error)"))
    }
  }

  private func body(for body: WireRequest.Body) async throws -> WireResponse.Body {
    switch body {
    case .hello:
      return .hello(hello)
    case .ingest(let raws):
      return .ingest(try await ingest(raws))
    case .getUser(let cookie):
      let c = cookie.trimmingCharacters()
      guard !c.isEmpty else { throw AudienceError.invalidField("cookie", "is required") }
      guard let user = try await store.user(cookie: c) else {
        throw AudienceError(.notFound, "no user with cookie \"\(c)\"")
      }
      return .getUser(user)
    case .queryCohort(var query):
      if let c = query.cookie?.trimmingCharacters() {
        guard try await store.user(cookie: c) != nil else {
          throw AudienceError(.notFound, "no user with cookie \"\(c)\"")
        }
        query.cookie = c
      }
      return .queryCohort(try await store.queryCohort(query, categories: configuration.categories))
    case .analyze(var query):
      if let c = query.cookie?.trimmingCharacters() {
        guard try await store.user(cookie: c) != nil else {
          throw AudienceError(.notFound, "no user with cookie \"\(c)\"")
        }
        query.cookie = c
      }
      try query.validate()
      return .analyze(try await store.analyze(query, categories: configuration.categories))
    case .watch, .cancel:
      // Streams and cancellation belong to the connection (AudienceServer+Watch.swift).
      throw AudienceError(.internal, "Watch and Cancel are handled by the connection, not the router")
    case .health:
      let elapsed = ContinuousClock.now - startedAt
      return .health(
        HealthInfo(
          status: "serving", serverVersion: configuration.serverVersion, store: store.kind,
          stats: try await store.stats(), uptimeSeconds: UInt64(max(0, elapsed.components.seconds)),
          connections: connectionCount()))
    }
  }

  /// Opens a live segment on the store.
  /// - Parameters:
  ///   - filter: the segment; nil is every profile.
  public func watch(_ filter: Filter?) async throws -> SegmentWatch {
    try await store.watch(filter, categories: configuration.categories)
  }

  /// Validates every record, stores the valid ones, and answers one outcome per record.
  private func ingest(_ raws: [RawRecord]) async throws -> IngestSummary {
    guard !raws.isEmpty else { throw AudienceError.invalidField("ingest.records", "is empty") }
    guard raws.count <= configuration.maxRecordsPerBatch else {
      throw AudienceError(
        .resourceExhausted,
        "ingest.records: batch of \(raws.count) records exceeds the limit of \(configuration.maxRecordsPerBatch); split it")
    }
    var outcomes = [IngestOutcome?](repeating: nil, count: raws.count)
    var valid: [Record] = []
    var positions: [Int] = []
    for (i, raw) in raws.enumerated() {
      do throws(AudienceError) {
        valid.append(try normalizer.normalize(raw))
        positions.append(i)
      } catch {
        outcomes[i] = .rejected(error.located("record \(i)"))
      }
    }
    if !valid.isEmpty {
      for (i, outcome) in zip(positions, try await store.ingest(valid)) { outcomes[i] = outcome }
    }
    return IngestSummary(outcomes: outcomes.map { $0! })
  }
}

extension String {
  func trimmingCharacters() -> String {
    guard let first = firstIndex(where: { !$0.isWhitespace }) else { return "" }
    let last = lastIndex(where: { !$0.isWhitespace })!
    return String(self[first...last])
  }
}
