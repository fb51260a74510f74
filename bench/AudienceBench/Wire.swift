import AudienceCore
import AudienceWire
import NIOCore

/// Requests as bytes, responses from bytes, over a `BlockingSocket`.
enum Wire {
  static func frame(_ request: WireRequest) -> [UInt8] {
    var b = ByteBuffer()
    WireCodec.encode(request, into: &b)
    return Array(b.readableBytesView)
  }

  static func decode(_ payload: ArraySlice<UInt8>) throws -> WireResponse {
    try WireCodec.decodeResponse(ByteBuffer(bytes: payload))
  }

  /// `count` GetUser requests (ids 1...count) for random cookies among c0..c(profiles-1), encoded.
  static func getUserFrames(_ count: Int, profiles: Int) -> [[UInt8]] {
    var rng = SystemRandomNumberGenerator()
    return (0..<count).map { i in
      frame(WireRequest(id: UInt64(i + 1), body: .getUser(cookie: "c\(Int.random(in: 0..<profiles, using: &rng))")))
    }
  }

  /// Connects and says Hello.
  static func connect(_ path: String) throws -> BlockingSocket {
    let s = try BlockingSocket(path: path)
    try s.writeAll(frame(WireRequest(id: 0, body: .hello(protocolVersion: audienceProtocolVersion, clientName: "audience-bench"))))
    let hello = try decode(try s.readFrame())
    guard hello.status.code == .ok else { throw BenchError("hello: \(hello.status)") }
    return s
  }

  /// One request, one response; throws a non-OK status.
  static func call(_ s: BlockingSocket, _ body: WireRequest.Body, id: UInt64 = 1) throws -> WireResponse.Body {
    try s.writeAll(frame(WireRequest(id: id, body: body)))
    let r = try decode(try s.readFrame())
    guard r.status.code == .ok, let b = r.body else { throw BenchError("request failed: \(r.status)") }
    return b
  }
}
