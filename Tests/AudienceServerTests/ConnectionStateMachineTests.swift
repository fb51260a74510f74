import AudienceWire
import Testing

@testable import AudienceServer

@Suite("ConnectionStateMachine")
struct ConnectionStateMachineTests {
  let hello = HelloInfo(protocolVersion: 1, serverVersion: "t", maxFrameBytes: 10, maxRecordsPerBatch: 2, maxInFlight: 3)

  @Test func helloFirstThenDispatch() {
    var m = ConnectionStateMachine(hello: hello)
    #expect(m.state == .awaitingHello)
    let a = m.received(WireRequest(id: 1, body: .hello(protocolVersion: 1, clientName: "x")))
    #expect(a == .reply(WireResponse(id: 1, body: .hello(hello)), close: false))
    #expect(m.state == .ready)
    #expect(m.received(WireRequest(id: 2, body: .health)) == .dispatch(WireRequest(id: 2, body: .health)))
  }

  @Test func anythingBeforeHelloClosesTheConnection() {
    var m = ConnectionStateMachine(hello: hello)
    guard case .reply(let r, let close) = m.received(WireRequest(id: 4, body: .health)) else {
      Issue.record("expected a reply"); return
    }
    #expect(close)
    #expect(r.status.code == .failedPrecondition)
    #expect(r.id == 4)
  }

  @Test func unsupportedVersionClosesTheConnection() {
    var m = ConnectionStateMachine(hello: hello)
    guard case .reply(let r, let close) = m.received(WireRequest(id: 1, body: .hello(protocolVersion: 2, clientName: ""))) else {
      Issue.record("expected a reply"); return
    }
    #expect(close)
    #expect(r.status.code == .failedPrecondition)
    #expect(m.state == .awaitingHello)
  }

  @Test func decodeFailureClosesOnlyBeforeHello() {
    var m = ConnectionStateMachine(hello: hello)
    #expect(m.decodeFailed(id: 3, status: WireStatus(.invalidArgument)) == .reply(WireResponse(id: 3, status: WireStatus(.invalidArgument)), close: true))
    _ = m.received(WireRequest(id: 1, body: .hello(protocolVersion: 1, clientName: "x")))
    #expect(m.decodeFailed(id: 3, status: WireStatus(.invalidArgument)) == .reply(WireResponse(id: 3, status: WireStatus(.invalidArgument)), close: false))
  }

  @Test func drainingRefusesNewRequests() {
    var m = ConnectionStateMachine(hello: hello)
    _ = m.received(WireRequest(id: 1, body: .hello(protocolVersion: 1, clientName: "x")))
    m.drain()
    guard case .reply(let r, false) = m.received(WireRequest(id: 2, body: .health)) else {
      Issue.record("expected a reply"); return
    }
    #expect(r.status.code == .unavailable)
  }
}
