import AudienceCore
@testable import AudienceWire
import NIOCore
import Testing

/// The client writes ingest batches without protobuf-c (`IngestBatchWriter`): its frames must be
/// the bytes protobuf-c packs for the same request, byte for byte.
@Suite("Ingest batches written as protobuf-c packs them")
struct IngestBatchWriterTests {
  static let texts: [String] = [
    "", "a", "c-1234567", " padded ", "Ünïcödé ville", "Someone@Example.COM", "2024-01-02T03:04:05",
    "03/10/2025 15:30", "tab\there", "🙂 emoji", String(repeating: "x", count: 127), String(repeating: "y", count: 128),
    String(repeating: "z", count: 16_384), "\u{00A0}nbsp\u{00A0}",
  ]
  static let ages: [Int?] = [nil, 0, 30, 130, 131, -1, -200, Int(Int32.max), Int(Int32.max) + 1, Int.max, Int.min, 1 << 40]
  static let numbers: [UInt64] = [0, 1, 127, 128, 16_383, 16_384, 1 << 35, UInt64.max]

  static func pick<T>(_ values: [T], _ rng: inout SplitMix64) -> T { values[Int(rng.next() % UInt64(values.count))] }

  static func record(_ rng: inout SplitMix64) -> RawRecord {
    // Short texts mostly: the long ones make multi-byte lengths, at every level of nesting.
    func text() -> String { rng.next() % 10 == 0 ? pick(texts, &rng) : pick(Array(texts.prefix(10)), &rng) }
    return RawRecord(
      cookie: text(), email: text(), phoneNumber: text(), createdAt: text(), state: text(), country: text(),
      city: text(), age: pick(ages, &rng), gender: text(), income: text(), education: text(),
      interests: (0..<Int(rng.next() % 5)).map { _ in text() })
  }

  static func bytes(_ request: WireRequest, _ encode: (WireRequest, inout ByteBuffer) -> Void) -> [UInt8] {
    var buffer = ByteBuffer()
    encode(request, &buffer)
    return Array(buffer.readableBytesView)
  }

  @Test func generatedBatchesAreProtobufCsBytes() throws {
    var rng = SplitMix64(seed: 20_261_127)
    for round in 0..<300 {
      let records = (0..<Int(rng.next() % 40)).map { _ in Self.record(&rng) }
      let batch = IngestBatch(
        stream: Self.pick(Self.numbers, &rng), sequence: Self.pick(Self.numbers, &rng), records: records,
        last: rng.next() % 2 == 0)
      let request = WireRequest(
        id: Self.pick(Self.numbers, &rng), timeoutMs: UInt32(truncatingIfNeeded: Self.pick(Self.numbers, &rng)),
        body: .ingestBatch(batch))
      let written = Self.bytes(request) { WireCodec.encode($0, into: &$1) }
      let packed = Self.bytes(request) { WireCodec.pack($0, into: &$1) }
      guard written == packed else {
        // The first byte that differs, not two frames of up to a megabyte.
        let at = zip(written, packed).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(written.count, packed.count)
        Issue.record("round \(round): \(written.count) bytes written, \(packed.count) packed; they differ at byte \(at)")
        return
      }

      // And the server reads back what was sent (ages as protobuf-c's int32 carries them).
      let decoded = try written.dropFirst(4).withUnsafeBytes { try WireCodec.unpackRequest($0) }
      guard case .ingestBatch(let back) = decoded.body else {
        Issue.record("round \(round): not an ingest batch")
        return
      }
      let sent = records.map { r in
        var r = r
        r.age = r.age.map { Int(Int32(clamping: $0)) }
        return r
      }
      #expect(back.records.rawRecords == sent && back.stream == batch.stream && back.sequence == batch.sequence)
    }
  }

  /// Records encoded one at a time (`EncodedRecords.Builder`, as the CLI does), from `RawRecord`s
  /// or from spans of bytes, make the same frame.
  @Test func recordsEncodedAheadMakeTheSameFrame() {
    var rng = SplitMix64(seed: 7_700)
    for round in 0..<200 {
      let records = (0..<Int(rng.next() % 30)).map { _ in Self.record(&rng) }
      var fromRecords = EncodedRecords.Builder()
      var fromBytes = EncodedRecords.Builder()
      for r in records {
        fromRecords.append(r)
        r.withBytes { fromBytes.append($0) }
      }
      #expect(fromRecords.count == records.count)
      let id = Self.pick(Self.numbers, &rng)
      let sequence = Self.pick(Self.numbers, &rng)
      func request(_ records: IngestRecords) -> WireRequest {
        WireRequest(id: id, body: .ingestBatch(IngestBatch(stream: 3, sequence: sequence, records: records, last: round % 5 == 0)))
      }
      let packed = Self.bytes(request(.decoded(records))) { WireCodec.pack($0, into: &$1) }
      for builder in [fromRecords, fromBytes] {
        var builder = builder
        let written = Self.bytes(request(.encoded(builder.take()))) { WireCodec.encode($0, into: &$1) }
        #expect(written == packed, "round \(round): \(written.count) bytes written, \(packed.count) packed")
        #expect(builder.count == 0)
      }
    }
  }

  /// The one difference from protobuf-c: a NUL byte is sent, not cut at (protobuf-c would send
  /// "a" for "a\0b" and leave "\0x" out), so the server can refuse the record by name.
  @Test func aNULByteIsSentNotCutAt() {
    let request = WireRequest(
      id: 1, body: .ingestBatch(IngestBatch(stream: 1, sequence: 0, records: [RawRecord(cookie: "a\u{0}b", email: "\u{0}x")])))
    let written = Self.bytes(request) { WireCodec.encode($0, into: &$1) }
    let packed = Self.bytes(request) { WireCodec.pack($0, into: &$1) }
    func holds(_ frame: [UInt8], _ field: [UInt8]) -> Bool {
      frame.indices.contains { frame[$0...].starts(with: field) }
    }
    #expect(holds(written, [0x0A, 3, 0x61, 0, 0x62]) && holds(written, [0x12, 2, 0, 0x78]))
    #expect(holds(packed, [0x0A, 1, 0x61]) && !holds(packed, [0x12, 2, 0, 0x78]))
  }

  @Test func anEmptyLastBatchIsProtobufCsBytes() {
    for id: UInt64 in [0, 9] {
      let request = WireRequest(id: id, body: .ingestBatch(IngestBatch(stream: 0, sequence: 0, records: [], last: true)))
      #expect(Self.bytes(request) { WireCodec.encode($0, into: &$1) } == Self.bytes(request) { WireCodec.pack($0, into: &$1) })
    }
  }
}
