import AudienceClient
import AudienceCore
import AudienceWire
import Foundation
import Testing

/// Peers that do not speak the protocol, or speak it badly, get a clear status and the
/// server keeps serving everyone else without losing acknowledged data.
@Suite("Hostile input", .serialized)
struct HostileInputTests {
  @Test func everyKindOfBadInputGetsAClearStatus() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let good = try await server.client()
    let acked = try await good.ingest([RawRecord(cookie: "keep", email: "keep@example.com", createdAt: "2025-01-01T00:00:00")])
    #expect(acked.accepted == 1)

    // HTTP instead of frames: "GET " reads as a 1.2 GB length.
    let http = try RawSocket(path: server.socketPath)
    http.send(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
    let r1 = try #require(try http.readResponse())
    #expect(r1.status.code == .resourceExhausted)
    #expect(r1.status.message.contains("exceeds the limit"))
    #expect(http.isClosedByPeer())

    // An oversize frame header is refused before its payload is sent.
    let big = try RawSocket(path: server.socketPath)
    try big.hello()
    big.send([0x00, 0xA0, 0x00, 0x00])  // 10 MiB announced
    let r2 = try #require(try big.readResponse())
    #expect(r2.status.code == .resourceExhausted)

    // A frame that is not a protobuf Request.
    let junk = try RawSocket(path: server.socketPath)
    try junk.hello()
    junk.send([0, 0, 0, 3, 0xFF, 0xFF, 0xFF])
    let r3 = try #require(try junk.readResponse())
    #expect(r3.status.code == .invalidArgument)
    // ... and the connection still works afterwards.
    junk.send(WireRequest(id: 9, body: .health))
    let r4 = try #require(try junk.readResponse())
    #expect(r4.id == 9)
    #expect(r4.status.code == .ok)

    // The first request must be Hello.
    let rude = try RawSocket(path: server.socketPath)
    rude.send(WireRequest(id: 5, body: .health))
    let r5 = try #require(try rude.readResponse())
    #expect(r5.status.code == .failedPrecondition)
    #expect(r5.status.message.contains("Hello"))

    // A protocol version we do not speak.
    let future = try RawSocket(path: server.socketPath)
    future.send(WireRequest(id: 6, body: .hello(protocolVersion: 99, clientName: "future")))
    let r6 = try #require(try future.readResponse())
    #expect(r6.status.code == .failedPrecondition)
    #expect(r6.status.message.contains("99"))

    // A NUL byte inside a string, from a client that does not refuse it (protobuf allows it;
    // protobuf-c would hand over "ab"): the record is refused, naming the record and field,
    // nothing stored (the others of the request would be kept, as in a stream's batch).
    let foreign = try RawSocket(path: server.socketPath)
    try foreign.hello()
    // Request{id: 7, ingest: {records: [{cookie: "ab\0cd"}]}}, length-prefixed.
    foreign.send([0, 0, 0, 13, 0x08, 0x07, 0x5A, 0x09, 0x0A, 0x07, 0x0A, 0x05, 0x61, 0x62, 0x00, 0x63, 0x64])
    let r7 = try #require(try foreign.readResponse())
    #expect(r7.id == 7)
    guard case .ingest(let s7) = r7.body, case .rejected(let nul)? = s7.outcomes.first else {
      Issue.record("\(r7)")
      return
    }
    #expect(s7.accepted == 0 && s7.rejected == 1)
    #expect(nul.message.contains("record 0") && nul.message.contains("data.cookie: contains a NUL byte"), "\(nul)")
    await #expect(throws: WireStatus.self) { _ = try await good.user(cookie: "ab") }

    // Bad records: each rejected with the record and the field named.
    let tenMB = String(repeating: "x", count: 10_000_00)
    let s = try await good.ingest([
      RawRecord(cookie: ""),
      RawRecord(cookie: "a", age: -5),
      RawRecord(cookie: "b", createdAt: "yesterday"),
      RawRecord(cookie: "c", city: tenMB),
      RawRecord(cookie: "ok", createdAt: "03/10/2025 15:30"),
    ])
    #expect(s.accepted == 1)
    #expect(s.rejected == 4)
    let messages = s.outcomes.compactMap { if case .rejected(let e) = $0 { e.message } else { nil } }
    #expect(messages[0].hasPrefix("record 0: data.cookie"))
    #expect(messages[1].hasPrefix("record 1: data.demographics.age"))
    #expect(messages[2].hasPrefix("record 2: data.created_at"))
    #expect(messages[3].hasPrefix("record 3: data.location.city"))

    // A 10 MB string inside a frame over the limit: RESOURCE_EXHAUSTED on the request.
    await #expect(throws: WireStatus.self) {
      _ = try await good.ingest([RawRecord(cookie: "huge", email: String(repeating: "y", count: 10 << 20))])
    }

    // The well-behaved client was served throughout, and nothing acknowledged was lost.
    let other = try await server.client()
    let kept = try await other.user(cookie: "keep")
    #expect(kept.data.email == "keep@example.com")
    #expect(try await other.user(cookie: "ok").data.createdAt?.iso8601 == "2025-03-10T15:30:00")
    await other.close()
    await good.close()
    await server.stop()
  }

  @Test func deeplyNestedFilterIsRefusedNotACrash() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let raw = try RawSocket(path: server.socketPath)
    try raw.hello()
    // Request{id=7, query_cohort(13){filter(1){not(3){not(3){...}}}}} built inside out.
    var filter: [UInt8] = [0x52, 0x00]  // innermost: age (field 10), empty range
    for _ in 0..<200_000 { filter = [0x1A] + varint(filter.count) + filter }
    let query: [UInt8] = [0x0A] + varint(filter.count) + filter
    let request: [UInt8] = [0x08, 0x07, 0x6A] + varint(query.count) + query
    raw.send(varint32(request.count) + request)
    let r = try #require(try raw.readResponse())
    #expect(r.status.code == .invalidArgument)
    #expect(r.status.message.contains("nested"))
    let client = try await server.client()
    #expect(try await client.health().status == "serving")
    await client.close()
    await server.stop()
  }

  /// A peer that shuts down only its sending side after its requests (`nc -N`, `socat`) still
  /// gets every response, including those of requests that wait (an ingest's, once durable;
  /// they used to be dropped as the connection closed at end of input).
  @Test func aPeerThatHalfClosesStillGetsEveryResponse() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let raw = try RawSocket(path: server.socketPath)
    try raw.hello()
    raw.send(WireRequest(id: 21, body: .ingest((0..<2_000).map { RawRecord(cookie: "half\($0)") })))
    raw.send(WireRequest(id: 22, body: .health))
    raw.send(WireRequest(id: 23, body: .analyze(AnalyzeQuery())))
    #expect(shutdown(raw.fd, Int32(SHUT_WR)) == 0)
    var answered: [UInt64: WireStatus] = [:]
    while let r = try raw.readResponse() { answered[r.id] = r.status }
    #expect(answered.keys.sorted() == [21, 22, 23])
    #expect(answered.values.allSatisfy { $0.code == .ok }, "\(answered)")
    let client = try await server.client()
    #expect(try await client.health().stats.records == 2_000)
    await client.close()
    await server.stop()
  }

  func varint(_ n: Int) -> [UInt8] {
    var out: [UInt8] = []
    var v = UInt64(n)
    repeat {
      var b = UInt8(v & 0x7F)
      v >>= 7
      if v != 0 { b |= 0x80 }
      out.append(b)
    } while v != 0
    return out
  }

  func varint32(_ n: Int) -> [UInt8] { [UInt8(n >> 24 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] }
}
