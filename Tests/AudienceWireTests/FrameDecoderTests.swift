import AudienceWire
import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing

@Suite("Framing")
struct FrameDecoderTests {
  private static func frame(_ payload: [UInt8]) -> ByteBuffer {
    var b = ByteBuffer()
    b.writeFrame { $0.writeBytes(payload) }
    return b
  }

  @Test func writeFramePutsABigEndianLengthFirst() {
    let b = Self.frame([1, 2, 3])
    #expect(Array(b.readableBytesView) == [0, 0, 0, 3, 1, 2, 3])
  }

  /// NIO's verifier feeds the input whole, byte by byte, in random chunks and coalesced
  /// with the next input, and checks that the same frames come out every time.
  @Test func framesSurviveEverySplitAndCoalescing() throws {
    var pairs: [(ByteBuffer, [ByteBuffer])] = []
    for payload: [UInt8] in [[], [0x08, 0x01], Array(repeating: 0xAB, count: 300), Array(0...255)] {
      pairs.append((Self.frame(payload), [ByteBuffer(bytes: payload)]))
    }
    var two = Self.frame([9])
    two.writeImmutableBuffer(Self.frame([7, 7]))
    pairs.append((two, [ByteBuffer(bytes: [9]), ByteBuffer(bytes: [7, 7])]))
    try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) { FrameDecoder(maxFrameBytes: 1024) }
  }

  @Test func partialFrameWaitsAndLeavesTheBufferAlone() throws {
    var decoder = FrameDecoder(maxFrameBytes: 1024)
    let whole = Self.frame([1, 2, 3, 4, 5])
    for cut in 0..<whole.readableBytes {
      var partial = whole.getSlice(at: 0, length: cut)!
      #expect(try decoder.decode(buffer: &partial) == nil)
      #expect(partial.readerIndex == 0, "a partial frame of \(cut) bytes moved the reader index")
    }
    var buffer = whole
    #expect(try decoder.decode(buffer: &buffer) == ByteBuffer(bytes: [1, 2, 3, 4, 5]))
    #expect(buffer.readableBytes == 0)
  }

  @Test func oversizeFrameIsRejectedFromItsHeaderAlone() throws {
    let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(maxFrameBytes: 100)))
    var header = ByteBuffer()
    header.writeInteger(UInt32(101), endianness: .big)
    // Only the four header bytes arrive: the decoder refuses without waiting for the payload.
    #expect(throws: FrameError.tooLarge(length: 101, limit: 100)) { try channel.writeInbound(header) }
    _ = try? channel.finish()
  }

  @Test func frameAtTheLimitIsAccepted() throws {
    var decoder = FrameDecoder(maxFrameBytes: 100)
    var buffer = Self.frame(Array(repeating: 1, count: 100))
    #expect(try decoder.decode(buffer: &buffer)?.readableBytes == 100)
  }

  @Test func hugeLengthsDoNotOverflow() throws {
    var decoder = FrameDecoder(maxFrameBytes: 1 << 20)
    var buffer = ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF, 0x00])
    #expect(throws: FrameError.tooLarge(length: Int(UInt32.max), limit: 1 << 20)) {
      try decoder.decode(buffer: &buffer)
    }
  }

  @Test func endOfStreamInsideAFrameIsTruncation() throws {
    var decoder = FrameDecoder(maxFrameBytes: 1024)
    var buffer = Self.frame([1, 2, 3, 4]).getSlice(at: 0, length: 6)!
    #expect(throws: FrameError.truncated(have: 6)) { try decoder.decodeLast(buffer: &buffer, seenEOF: true) }
    var empty = ByteBuffer()
    #expect(try decoder.decodeLast(buffer: &empty, seenEOF: true) == nil)
  }

  @Test func errorsExplainThemselves() {
    #expect("\(FrameError.tooLarge(length: 1_195_725_856, limit: 4_194_304))".contains("4-byte big-endian length"))
    #expect("\(FrameError.truncated(have: 3))".contains("3 bytes"))
  }
}
