public import AudienceWire

/// The protocol state of one connection, as a value that returns actions; the connection
/// handler only executes them (the postgres-nio pattern), so it is tested without sockets.
///
/// States:
/// - `awaitingHello`: the first request must be Hello with a protocol version we speak.
///   Hello → `ready`; anything else or a bad version → reply with FAILED_PRECONDITION and close.
/// - `ready`: requests are dispatched. A second Hello is answered again. A frame that does
///   not decode gets INVALID_ARGUMENT and the connection stays open (framing is intact).
/// - `draining`: the server is shutting down; new requests get UNAVAILABLE, requests in
///   flight finish, then the connection closes.
public struct ConnectionStateMachine: Sendable {
  public enum State: Hashable, Sendable { case awaitingHello, ready, draining }

  public enum Action: Hashable, Sendable {
    /// Reply without running anything; close afterwards when `close` is set.
    case reply(WireResponse, close: Bool)
    /// Run the request and reply with its result.
    case dispatch(WireRequest)
  }

  public private(set) var state: State = .awaitingHello
  let hello: HelloInfo

  /// - Parameters:
  ///   - hello: what to answer Hello with.
  public init(hello: HelloInfo) { self.hello = hello }

  /// A request arrived.
  /// - Parameters:
  ///   - request: the decoded request.
  public mutating func received(_ request: WireRequest) -> Action {
    switch (state, request.body) {
    case (.draining, _):
      return .reply(WireResponse(id: request.id, status: WireStatus(.unavailable, "server is shutting down")), close: false)
    case (_, .hello(let version, _)):
      guard version == audienceProtocolVersion else {
        return .reply(
          WireResponse(
            id: request.id,
            status: WireStatus(
              .failedPrecondition,
              "protocol version \(version) is not supported; this server speaks version \(audienceProtocolVersion)")),
          close: true)
      }
      state = .ready
      return .reply(WireResponse(id: request.id, body: .hello(hello)), close: false)
    case (.awaitingHello, _):
      return .reply(
        WireResponse(
          id: request.id,
          status: WireStatus(.failedPrecondition, "the first request on a connection must be Hello (protocol version check)")),
        close: true)
    case (.ready, _):
      return .dispatch(request)
    }
  }

  /// A frame arrived that is not a valid request.
  /// - Parameters:
  ///   - id: the request id found in the bytes, or 0.
  ///   - status: why it was refused.
  public mutating func decodeFailed(id: UInt64, status: WireStatus) -> Action {
    .reply(WireResponse(id: id, status: status), close: state == .awaitingHello)
  }

  /// The server began shutting down.
  public mutating func drain() { state = .draining }
}
