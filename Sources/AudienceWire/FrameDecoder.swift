public import NIOCore

/// Reads frames: a 4-byte big-endian length, then that many bytes of one protobuf envelope.
///
/// The length is checked against the limit as soon as the header arrives, before any of
/// the payload is buffered, so an oversize frame costs the server four bytes of memory.
/// A partial frame leaves `readerIndex` where it was. The same decoder serves the server
/// (through `ByteToMessageHandler`) and the client.
public struct FrameDecoder: NIOSingleStepByteToMessageDecoder {
  public typealias InboundOut = ByteBuffer

  /// Largest payload accepted, in bytes.
  public let maxFrameBytes: Int

  /// - Parameters:
  ///   - maxFrameBytes: largest payload accepted.
  public init(maxFrameBytes: Int) { self.maxFrameBytes = maxFrameBytes }

  public mutating func decode(buffer: inout ByteBuffer) throws -> ByteBuffer? {
    guard let length = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: UInt32.self) else {
      return nil
    }
    guard Int(length) <= maxFrameBytes else {
      throw FrameError.tooLarge(length: Int(length), limit: maxFrameBytes)
    }
    guard buffer.readableBytes >= 4 + Int(length) else { return nil }
    buffer.moveReaderIndex(forwardBy: 4)
    return buffer.readSlice(length: Int(length))
  }

  public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> ByteBuffer? {
    if let frame = try decode(buffer: &buffer) { return frame }
    if buffer.readableBytes > 0 {
      throw FrameError.truncated(have: buffer.readableBytes)
    }
    return nil
  }
}

/// Why the byte stream could not be cut into frames. Fatal to the connection.
public enum FrameError: Error, Hashable, Sendable, CustomStringConvertible {
  case tooLarge(length: Int, limit: Int)
  case truncated(have: Int)

  public var description: String {
    switch self {
    case .tooLarge(let length, let limit):
      // A length past 256 MiB is more likely text than a frame ("GET " reads as 1.2 GB).
      length > 256 << 20
        ? "frame of \(length) bytes exceeds the limit of \(limit) bytes (is the peer speaking the Audience protocol? frames start with a 4-byte big-endian length)"
        : "frame of \(length) bytes exceeds the limit of \(limit) bytes (send smaller requests, or raise the server's --max-frame-bytes)"
    case .truncated(let have):
      "connection closed in the middle of a frame (\(have) bytes of it received)"
    }
  }
}

extension ByteBuffer {
  /// Appends one frame whose payload `body` writes; fills in the length afterwards.
  /// - Parameters:
  ///   - body: writes the payload and returns its length.
  public mutating func writeFrame(_ body: (inout ByteBuffer) throws -> Void) rethrows {
    let lengthIndex = writerIndex
    writeInteger(UInt32(0), endianness: .big)
    try body(&self)
    let length = writerIndex - lengthIndex - 4
    setInteger(UInt32(length), at: lengthIndex, endianness: .big)
  }
}
