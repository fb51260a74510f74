public import AudienceCore
public import AudienceWire
import NIOCore
public import NIOPosix
import Synchronization
internal import Glibc

/// A connection to an Audience server. Safe to share: calls from many tasks are pipelined
/// on the one connection and their responses matched by request id.
///
/// Every method throws `WireStatus` on failure: the server's status code and message, or
/// UNAVAILABLE when the connection is gone.
public final class AudienceClient: Sendable {
  let channel: any Channel
  private let nextID = Atomic<UInt64>(1)
  /// What the server said in Hello: its version and limits.
  public let server: HelloInfo

  /// Why the connection closed, as the server said it (a status frame with id 0), if it did.
  let closeReason: CloseReason

  private init(channel: any Channel, server: HelloInfo, closeReason: CloseReason) {
    self.channel = channel
    self.closeReason = closeReason
    self.server = server
  }

  /// Connects and checks the protocol version.
  /// - Parameters:
  ///   - socketPath: the server's Unix socket.
  ///   - clientName: identifies the client in the server's logs.
  ///   - maxFrameBytes: largest response accepted.
  ///   - eventLoopGroup: NIO threads.
  public static func connect(
    socketPath: String, clientName: String = "audience-swift", maxFrameBytes: Int = 256 << 20,
    eventLoopGroup: MultiThreadedEventLoopGroup = .singleton
  ) async throws -> AudienceClient {
    let channel: any Channel
    let reason = CloseReason()
    do {
      channel = try await ClientBootstrap(group: eventLoopGroup)
        .channelInitializer { channel in
          channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(maxFrameBytes: maxFrameBytes)))
            try channel.pipeline.syncOperations.addHandler(ResponseDispatcher(closeReason: reason))
          }
        }
        .connect(unixDomainSocketPath: socketPath).get()
    } catch {
      if case .unixDomainSocketPathTooLong? = error as? SocketAddressError {
        throw WireStatus(.invalidArgument, "cannot connect to \(socketPath): \(Self.describe(error))")
      }
      // Permission denied: the server may well be running; the socket's mode or group keeps
      // this user out ("is audienced running?" sent people looking for the wrong problem).
      let denied = (error as? IOError)?.errnoCode == EACCES
      throw WireStatus(
        .unavailable,
        "cannot connect to \(socketPath): \(Self.describe(error))"
          + (denied ? " (the socket's mode or group does not let this user connect: see audienced --socket-mode and --socket-group)" : " (is audienced running?)"))
    }
    let hello = try await Self.send(
      WireRequest(id: 0, body: .hello(protocolVersion: audienceProtocolVersion, clientName: clientName)), on: channel,
      reason: reason)
    guard case .hello(let info)? = hello.body, hello.status.code == .ok else {
      channel.close(promise: nil)
      throw hello.status.code == .ok ? WireStatus(.internal, "server answered Hello without a Hello response") : hello.status
    }
    return AudienceClient(channel: channel, server: info, closeReason: reason)
  }

  /// Stores records; returns one outcome per record (invalid ones are `.rejected` with the reason).
  /// - Parameters:
  ///   - records: at most `server.maxRecordsPerBatch` records.
  ///   - timeoutMs: deadline, 0 for none.
  public func ingest(_ records: [RawRecord], timeoutMs: UInt32 = 0) async throws -> IngestSummary {
    try Self.refuseNUL(records)
    guard case .ingest(let s) = try await call(.ingest(records), timeoutMs: timeoutMs) else { throw Self.mismatch }
    return s
  }

  /// INVALID_ARGUMENT for a record with a NUL byte in a field: sent, it would arrive cut short
  /// (`RawRecord.fieldWithNUL`).
  static func refuseNUL(_ records: [RawRecord]) throws(WireStatus) {
    try records.forEachInPlace { (i, r) throws(WireStatus) in
      if let field = r.fieldWithNUL { throw nulRefusal(record: i, field: field) }
    }
  }

  /// INVALID_ARGUMENT naming the record (its place in the batch) and its field holding a NUL byte.
  static func nulRefusal(record i: Int, field: String) -> WireStatus {
    WireStatus(.invalidArgument, "record \(i): \(field) contains a NUL byte, which the protocol cannot carry")
  }

  /// The merged profile behind a cookie; NOT_FOUND when the cookie is unknown.
  /// - Parameters:
  ///   - cookie: the cookie.
  ///   - timeoutMs: deadline, 0 for none.
  public func user(cookie: String, timeoutMs: UInt32 = 0) async throws -> UserView {
    guard case .getUser(let u) = try await call(.getUser(cookie: cookie), timeoutMs: timeoutMs) else { throw Self.mismatch }
    return u
  }

  /// One page of a segmentation query.
  /// - Parameters:
  ///   - query: filter, scope and paging.
  ///   - timeoutMs: deadline, 0 for none.
  public func queryCohort(_ query: CohortQuery, timeoutMs: UInt32 = 0) async throws -> CohortPage {
    guard case .queryCohort(let p) = try await call(.queryCohort(query), timeoutMs: timeoutMs) else { throw Self.mismatch }
    return p
  }

  /// One page of a segmentation query, its users kept as received (parsed, not yet Swift
  /// values) and decoded field by field when read: for pages of thousands of users of which a
  /// program reads a few fields, or hands them on. `page.decoded()` gives what `queryCohort`
  /// returns.
  /// - Parameters:
  ///   - query: filter, scope and paging.
  ///   - timeoutMs: deadline, 0 for none.
  public func queryCohortLazily(_ query: CohortQuery, timeoutMs: UInt32 = 0) async throws -> LazyCohortPage {
    try lazyPage(try await requestFrame(.queryCohort(query), timeoutMs: timeoutMs).get())
  }

  /// Every page of a segmentation query, as `queryCohortLazily` returns them: each page's
  /// successor is asked for as soon as the page arrives, before it is read, so the server
  /// prepares the next page while the program reads this one (one page ahead, no more).
  /// The pages end after the last one, or with the first error.
  /// - Parameters:
  ///   - query: filter and scope; `limit` is the page size, `cursor` where to start.
  ///   - timeoutMs: deadline of each page, 0 for none.
  public func cohortPages(_ query: CohortQuery, timeoutMs: UInt32 = 0) -> CohortPages {
    CohortPages(client: self, query: query, timeoutMs: timeoutMs)
  }

  /// Sends a request whose response frame is handed over as it came.
  func requestFrame(_ body: WireRequest.Body, timeoutMs: UInt32) -> EventLoopFuture<ByteBuffer> {
    let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
    let promise = channel.eventLoop.makePromise(of: ByteBuffer.self)
    Self.write(
      PendingRequest(request: WireRequest(id: id, timeoutMs: timeoutMs, body: body), sink: .frame(promise)),
      on: channel, reason: closeReason)
    return promise.futureResult
  }

  /// A QueryCohort response frame as a lazy page, or the error it carries (a `WireStatus`,
  /// INTERNAL for a page that is not valid protobuf).
  func lazyPage(_ frame: ByteBuffer) throws -> LazyCohortPage {
    do {
      if let page = try LazyCohortPage(frame) { return page }
    } catch {
      throw WireStatus(.internal, "undecodable response from server: \(error)")
    }
    // An error status, or a page encoded in a way the lazy reader leaves to protobuf-c.
    let response: WireResponse
    do {
      response = try WireCodec.decodeResponse(frame)
    } catch {
      throw WireStatus(.internal, "undecodable response from server: \(error)")
    }
    guard response.status.code == .ok else { throw response.status }
    guard case .queryCohort(let page)? = response.body else { throw Self.mismatch }
    return try LazyCohortPage(page)
  }

  /// The notebook's figures over a segment.
  /// - Parameters:
  ///   - query: filter, scope and parameters.
  ///   - timeoutMs: deadline, 0 for none.
  public func analyze(_ query: AnalyzeQuery, timeoutMs: UInt32 = 0) async throws -> AudienceReport {
    guard case .analyze(let r) = try await call(.analyze(query), timeoutMs: timeoutMs) else { throw Self.mismatch }
    return r
  }

  /// Erases a person (every raw record of their profile); returns what was erased. NOT_FOUND
  /// when the person is unknown.
  /// - Parameters:
  ///   - person: a cookie or an email.
  public func forget(_ person: PersonRef) async throws -> ProfileSummary {
    guard case .forget(let s) = try await call(.forget(person)) else { throw Self.mismatch }
    return s
  }

  /// Detaches a wrongly merged cookie into a profile of its own; returns the profiles its old
  /// profile became (the cookie's first). NOT_FOUND for an unknown cookie.
  /// - Parameters:
  ///   - cookie: the cookie.
  public func split(cookie: String) async throws -> [ProfileSummary] {
    guard case .split(let profiles) = try await call(.split(cookie: cookie)) else { throw Self.mismatch }
    return profiles
  }

  /// Everything held about a person. NOT_FOUND when the person is unknown.
  /// - Parameters:
  ///   - person: a cookie or an email.
  public func export(_ person: PersonRef) async throws -> PersonExport {
    guard case .export(let x) = try await call(.export(person)) else { throw Self.mismatch }
    return x
  }

  /// How a person's profile came to be, record by record. NOT_FOUND when unknown.
  /// - Parameters:
  ///   - person: a cookie or an email.
  public func history(_ person: PersonRef) async throws -> PersonHistory {
    guard case .history(let h) = try await call(.history(person)) else { throw Self.mismatch }
    return h
  }

  /// The server's state and counts.
  /// - Parameters:
  ///   - timeoutMs: deadline, 0 for none.
  public func health(timeoutMs: UInt32 = 0) async throws -> HealthInfo {
    guard case .health(let h) = try await call(.health, timeoutMs: timeoutMs) else { throw Self.mismatch }
    return h
  }

  /// Opens a live segment. The first event is `.started(total:)`; then one `.enter` or
  /// `.leave` per profile whose membership changes because of new records; `.ended` last,
  /// after `cancel()` or when the server stops. The stream throws the status when the
  /// server ends the watch with an error. Cancelling the consuming task also cancels the watch.
  /// - Parameters:
  ///   - filter: the segment; nil is every profile.
  public func watch(_ filter: Filter?) -> LiveSegment { watch(filter, pacedAt: nil) }

  /// A live segment whose events, past `limit` received and not yet read from `events`, stop the
  /// connection's reading until half are read: the server then holds them, folded when far
  /// behind (docs/PROTOCOL.md), rather than this process's memory. Nothing else on the connection
  /// is read meanwhile: use it on a connection that waits for nothing but this watch (`cancel`
  /// reads again first). Nil: every event is kept until read.
  /// - Parameters:
  ///   - filter: the segment; nil is everyone.
  ///   - limit: events kept unread before the connection stops reading.
  public func watch(_ filter: Filter?, pacedAt limit: Int?) -> LiveSegment {
    let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
    let (received, continuation) = AsyncThrowingStream.makeStream(of: WatchEvent.self)
    let pacing = limit.map { WatchPacing(limit: $0, channel: channel) }
    let events: AsyncThrowingStream<WatchEvent, any Error>
    if let pacing {
      let paced = PacedEvents(received, pacing)
      events = AsyncThrowingStream { try await paced.next() }
    } else {
      events = received
    }
    let segment = LiveSegment(requestID: id, events: events, client: self, pacing: pacing)
    continuation.onTermination = { reason in
      pacing?.stop()
      if case .cancelled = reason { Task { _ = try? await segment.cancel() } }
    }
    Self.write(
      PendingRequest(request: WireRequest(id: id, body: .watch(filter)), sink: .stream(continuation, pacing)), on: channel,
      reason: closeReason)
    return segment
  }

  /// Sends any request and returns the response body; throws the status when it is not OK.
  /// - Parameters:
  ///   - body: the method and arguments.
  ///   - timeoutMs: deadline, 0 for none.
  public func call(_ body: WireRequest.Body, timeoutMs: UInt32 = 0) async throws -> WireResponse.Body {
    let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
    let response = try await Self.send(WireRequest(id: id, timeoutMs: timeoutMs, body: body), on: channel, reason: closeReason)
    guard response.status.code == .ok else { throw response.status }
    guard let body = response.body else { throw WireStatus(.internal, "server sent an empty response to request \(id)") }
    return body
  }

  /// Calls `body` once the connection has closed, whoever closed it (at once if it has).
  public func whenClosed(_ body: @escaping @Sendable () -> Void) {
    channel.closeFuture.whenComplete { _ in body() }
  }

  /// Closes the connection.
  public func close() async {
    try? await channel.close()
  }

  /// Sends a request now (requests go out in the order of these calls) and returns its id and
  /// its response to come.
  func start(_ body: WireRequest.Body) -> (id: UInt64, response: EventLoopFuture<WireResponse>) {
    let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
    let promise = channel.eventLoop.makePromise(of: WireResponse.self)
    Self.write(PendingRequest(request: WireRequest(id: id, body: body), sink: .single(promise)), on: channel, reason: closeReason)
    return (id, promise.futureResult)
  }

  private static func send(_ request: WireRequest, on channel: any Channel, reason: CloseReason) async throws -> WireResponse {
    let promise = channel.eventLoop.makePromise(of: WireResponse.self)
    write(PendingRequest(request: request, sink: .single(promise)), on: channel, reason: reason)
    return try await promise.futureResult.get()
  }

  /// Writes a request; if the write fails (the connection is already gone, so the dispatcher
  /// never sees it), its caller is failed instead of waiting forever.
  private static func write(_ pending: PendingRequest, on channel: any Channel, reason: CloseReason) {
    let written = channel.eventLoop.makePromise(of: Void.self)
    written.futureResult.whenFailure { error in
      // Once the channel has closed, any status frame the server sent before closing has been read.
      channel.closeFuture.whenComplete { _ in
        pending.sink.fail(
          reason.status ?? (error as? WireStatus) ?? WireStatus(.unavailable, "connection closed: \(describe(error))"))
      }
      channel.close(promise: nil)
    }
    channel.writeAndFlush(pending, promise: written)
  }

  private static let mismatch = WireStatus(.internal, "server answered with a different method's response")

  /// The system's words for a failed connection ("No such file or directory"), not NIO's
  /// description, which names the function that failed (`connect(descriptor:addr:size:)`).
  static func describe(_ error: any Error) -> String {
    if let e = error as? IOError { return String(cString: strerror(e.errnoCode)) }
    if case .unixDomainSocketPathTooLong? = error as? SocketAddressError {
      return "the path is longer than a Unix socket address holds (107 bytes)"
    }
    return "\(error)"
  }
}

/// A watch opened by `AudienceClient.watch`.
public struct LiveSegment: Sendable {
  /// The Watch request's id (what Cancel names).
  public let requestID: UInt64
  /// The events, from STARTED to ENDED.
  public let events: AsyncThrowingStream<WatchEvent, any Error>
  let client: AudienceClient
  let pacing: WatchPacing?

  /// Asks the server to end the watch; `events` then finishes with `.ended`.
  /// - Returns: whether the server still had it open.
  @discardableResult
  public func cancel() async throws -> Bool {
    pacing?.stop()  // the answer comes behind the events not yet read, and those still to come
    guard case .cancel(let found) = try await client.call(.cancel(requestID: requestID)) else {
      throw WireStatus(.internal, "server answered Cancel with another method's response")
    }
    return found
  }
}

/// The server's last word on a connection (a status frame with id 0 before it closed), kept
/// where requests written after the close can still find it.
final class CloseReason: Sendable {
  private let value = Mutex<WireStatus?>(nil)
  var status: WireStatus? { value.withLock { $0 } }
  func record(_ status: WireStatus) { value.withLock { if $0 == nil { $0 = status } } }
}
