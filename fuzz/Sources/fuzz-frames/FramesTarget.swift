import AudienceCore
import AudienceWire
import NIOCore

/// Frame decoding and envelope decoding: the bytes a client may send. Every input must give
/// frames or a framing error, and every frame a request or an error, never a crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFrames(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  var buffer = ByteBuffer(bytes: UnsafeBufferPointer(start: data, count: size))
  var decoder = FrameDecoder(maxFrameBytes: 1 << 16)
  while true {
    let next: ByteBuffer?
    do { next = try decoder.decode(buffer: &buffer) } catch { break }
    guard let frame = next else { break }
    if let request = try? WireCodec.decodeRequest(frame) {
      // What decodes must encode again.
      var out = ByteBuffer()
      WireCodec.encode(request, into: &out)
    }
  }
  // The payload alone, as an envelope.
  _ = try? WireCodec.decodeRequest(ByteBuffer(bytes: UnsafeBufferPointer(start: data, count: size)))
  return 0
}
