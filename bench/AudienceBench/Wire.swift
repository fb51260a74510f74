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
    let r = try WireCodec.decodeResponse(try s.readFrameBuffer())
    guard r.status.code == .ok, let b = r.body else { throw BenchError("request failed: \(r.status)") }
    return b
  }

  /// `next_cursor` of a QueryCohort response, read from its protobuf bytes without decoding the
  /// users (Response field 13, QueryCohortResponse field 3); nil when empty or absent.
  static func nextCursor<Bytes: RandomAccessCollection<UInt8>>(
    _ payload: Bytes
  ) throws -> String? where Bytes.Index == Int, Bytes.SubSequence == Bytes {
    func fields(_ bytes: Bytes, _ visit: (UInt64, Bytes) throws -> Void) throws {
      var i = bytes.startIndex
      func varint() throws -> UInt64 {
        var v: UInt64 = 0, shift: UInt64 = 0
        while true {
          guard i < bytes.endIndex, shift < 64 else { throw BenchError("bad varint") }
          let b = bytes[i]
          i += 1
          v |= UInt64(b & 0x7F) << shift
          if b < 0x80 { return v }
          shift += 7
        }
      }
      while i < bytes.endIndex {
        let key = try varint()
        switch key & 7 {
        case 0: _ = try varint()
        case 2:
          let n = Int(try varint())
          guard n <= bytes.endIndex - i else { throw BenchError("truncated field") }
          try visit(key >> 3, bytes[i..<(i + n)])
          i += n
        default: throw BenchError("unexpected wire type \(key & 7)")
        }
      }
    }
    var cursor: String? = nil
    try fields(payload) { field, body in
      if field == 2 { throw BenchError("the query failed") }
      guard field == 13 else { return }
      try fields(body) { f, value in if f == 3, !value.isEmpty { cursor = String(decoding: value, as: UTF8.self) } }
    }
    return cursor
  }
}
