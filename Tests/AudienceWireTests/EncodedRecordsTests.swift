import AudienceCore
@testable import AudienceWire
import NIOCore
import Testing

/// The server reads ingest batches without protobuf-c (`EncodedRecords`): it must take only
/// frames protobuf-c takes, and read the same records from them. Frames are built byte by byte
/// here (protobuf-c's encoder cannot send a NUL inside a string, a field twice or an unknown
/// field), decoded both ways, and compared, then damaged and compared again.
@Suite("Ingest batches read as protobuf-c reads them")
struct EncodedRecordsTests {
  /// A protobuf writer for any bytes, well formed or not.
  struct PB {
    var bytes: [UInt8] = []

    mutating func varint(_ v: UInt64) {
      var v = v
      while v >= 0x80 {
        bytes.append(UInt8(v & 0x7F) | 0x80)
        v >>= 7
      }
      bytes.append(UInt8(v))
    }
    mutating func key(_ field: Int, _ wire: Int) { varint(UInt64(field << 3 | wire)) }
    mutating func field(_ field: Int, _ value: [UInt8]) {
      key(field, 2)
      varint(UInt64(value.count))
      bytes += value
    }
    mutating func field(_ field: Int, varint value: UInt64) {
      key(field, 0)
      varint(value)
    }
  }

  static let texts: [[UInt8]] = [
    [], Array("a".utf8), Array("c-1234567".utf8), Array(" padded ".utf8), Array("Ünïcödé ville".utf8),
    Array("Someone@Example.COM".utf8), Array("a-rather-long-value-past-fifteen-bytes".utf8),
    Array("03/10/2025 15:30".utf8), Array("2024-01-02T03:04:05".utf8), Array("yesterday".utf8), Array("null".utf8),
    Array("\u{00A0}nbsp\u{00A0}".utf8), [0x61, 0x00, 0x62], [0xFF, 0xFE], [0xC3], Array("tab\there".utf8), [0x0A],
  ]

  static func text(_ rng: inout SplitMix64) -> [UInt8] {
    // Mostly good values; now and then a NUL, a byte that is not UTF-8 or a control character.
    let i = Int(rng.next() % 100)
    if i < 85 { return texts[i % 12] }
    return texts[12 + i % (texts.count - 12)]
  }

  /// A record's bytes: its fields in any order, sometimes twice, with unknown fields between.
  static func record(_ rng: inout SplitMix64) -> [UInt8] {
    var r = PB()
    var parts: [(inout PB) -> Void] = []
    for f in 1...4 where rng.next() % 4 != 0 {
      let value = f == 1 && rng.next() % 8 != 0 ? Array("c\(rng.next() % 1000)".utf8) : text(&rng)
      parts.append { $0.field(f, value) }
    }
    for _ in 0..<Int(rng.next() % 4) {
      let value = text(&rng)
      parts.append { $0.field(7, value) }
    }
    if rng.next() % 3 != 0 {
      var l = PB()
      for f in 1...3 where rng.next() % 3 != 0 { l.field(f, text(&rng)) }
      if rng.next() % 8 == 0 { l.field(2, text(&rng)) }
      if rng.next() % 8 == 0 { l.field(9, varint: 5) }
      let bytes = l.bytes
      parts.append { $0.field(5, bytes) }
    }
    if rng.next() % 3 != 0 {
      var d = PB()
      let ages: [UInt64] = [0, 30, 130, 131, UInt64(bitPattern: -1), UInt64(Int32.max), 1 << 33 | 25]
      if rng.next() % 3 != 0 { d.field(1, varint: ages[Int(rng.next() % UInt64(ages.count))]) }
      for f in 2...4 where rng.next() % 3 != 0 { d.field(f, text(&rng)) }
      if rng.next() % 8 == 0 { d.field(1, varint: 44) }
      let bytes = d.bytes
      parts.append { $0.field(6, bytes) }
    }
    if rng.next() % 6 == 0 { parts.append { $0.field(12, varint: 7) } }
    if rng.next() % 6 == 0 { parts.append { $0.field(99, Array("unknown".utf8)) } }
    if rng.next() % 6 == 0 {
      parts.append {
        $0.key(13, 5)
        $0.bytes += [1, 2, 3, 4]
      }
    }
    if rng.next() % 6 == 0 { parts.append { $0.field(1, Array("c-again".utf8)) } }
    // Shuffled: protobuf fields may come in any order.
    for i in parts.indices.reversed() where i > 0 { parts.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
    for p in parts { p(&r) }
    return r.bytes
  }

  static func frame(_ records: [[UInt8]], id: UInt64 = 7, stream: UInt64 = 3, sequence: UInt64 = 1, last: Bool = false) -> [UInt8] {
    var batch = PB()
    batch.field(1, varint: stream)
    batch.field(2, varint: sequence)
    for r in records { batch.field(3, r) }
    if last { batch.field(4, varint: 1) }
    var request = PB()
    request.field(1, varint: id)
    request.field(23, batch.bytes)
    return request.bytes
  }

  enum Reading: Equatable {
    /// protobuf-c refused the frame as protobuf.
    case malformed
    /// protobuf-c refused a record's text (not UTF-8, or a NUL): the record at this place.
    case refusedText(record: Int)
    case batch(stream: UInt64, sequence: UInt64, last: Bool, records: [RawRecord])
  }

  static func protobufC(_ bytes: [UInt8]) -> Reading {
    do {
      let request = try bytes.withUnsafeBytes { try WireCodec.unpackRequest($0) }
      // A unary Ingest's records, as a batch's.
      if case .ingest(let records) = request.body { return .batch(stream: 0, sequence: 0, last: false, records: records) }
      guard case .ingestBatch(let b) = request.body, case .decoded(let records) = b.records else { return .malformed }
      return .batch(stream: b.stream, sequence: b.sequence, last: b.last, records: records)
    } catch let error as AudienceError {
      if error.message.contains("not a valid audience.v1.Request") { return .malformed }
      let place = error.message.split(separator: ":").first.flatMap { Int($0.dropFirst("record ".count)) }
      return place.map { .refusedText(record: $0) } ?? .malformed
    } catch {
      return .malformed
    }
  }

  /// Normalizes a received record both ways: each record's outcome must be the same, and a
  /// record protobuf-c refused must be refused.
  static func compare(_ bytes: [UInt8], _ reference: Reading, _ encoded: EncodedRecords, sourceLocation: SourceLocation = #_sourceLocation) {
    let normalizer = RecordNormalizer()
    var lazy: [Result<Record, AudienceError>] = []
    encoded.forEach { _, fields in
      lazy.append(Result { () throws(AudienceError) in try normalizer.normalize(fields) })
    } unreadable: { i, error in
      Issue.record("record \(i) unreadable: \(error)", sourceLocation: sourceLocation)
    }
    switch reference {
    case .malformed:
      Issue.record("read a frame protobuf-c refuses: \(bytes)", sourceLocation: sourceLocation)
    case .refusedText(let place):
      #expect(place < lazy.count, sourceLocation: sourceLocation)
      if place < lazy.count, case .success = lazy[place] {
        Issue.record("record \(place) was taken; protobuf-c refused its text: \(bytes)", sourceLocation: sourceLocation)
      }
    case .batch(_, _, _, let records):
      #expect(records.count == lazy.count, sourceLocation: sourceLocation)
      for (raw, mine) in zip(records, lazy) {
        let theirs = Result { () throws(AudienceError) in try normalizer.normalize(raw) }
        switch (theirs, mine) {
        case (.success(let a), .success(let b)): #expect(a == b, sourceLocation: sourceLocation)
        case (.failure(let a), .failure(let b)): #expect(a.message == b.message, sourceLocation: sourceLocation)
        default: Issue.record("\(theirs) vs \(mine) for \(raw)", sourceLocation: sourceLocation)
        }
      }
    }
  }

  @Test func generatedBatchesReadAsProtobufCReadsThem() throws {
    var rng = SplitMix64(seed: 42)
    var fast = 0
    for n in 0..<400 {
      let records = (0..<Int(rng.next() % 12)).map { _ in Self.record(&rng) }
      let bytes = Self.frame(records, id: UInt64(n), sequence: UInt64(n), last: n % 5 == 0)
      let reference = Self.protobufC(bytes)
      guard let request = bytes.withUnsafeBytes({ EncodedRecords.request($0) }) else {
        // Left to protobuf-c: only a record holding its location or demographics twice.
        continue
      }
      guard case .ingestBatch(let batch) = request.body, case .encoded(let encoded) = batch.records else {
        Issue.record("not an encoded batch")
        continue
      }
      fast += 1
      #expect(request.id == UInt64(n))
      if case .batch(let stream, let sequence, let last, _) = reference {
        #expect((batch.stream, batch.sequence, batch.last) == (stream, sequence, last))
      }
      Self.compare(bytes, reference, encoded)
    }
    #expect(fast == 400, "every generated frame is read without protobuf-c")
  }

  @Test func damagedBatchesAreLeftToProtobufCOrReadAsItReadsThem() throws {
    var rng = SplitMix64(seed: 7)
    var taken = 0, left = 0
    for _ in 0..<3000 {
      let records = (0..<Int(1 + rng.next() % 4)).map { _ in Self.record(&rng) }
      var bytes = Self.frame(records)
      switch rng.next() % 4 {
      case 0: bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next())
      case 1: bytes.removeLast(Int(1 + rng.next() % UInt64(bytes.count - 1)))
      case 2: bytes.insert(UInt8(truncatingIfNeeded: rng.next()), at: Int(rng.next() % UInt64(bytes.count)))
      default:
        for _ in 0..<3 { bytes[Int(rng.next() % UInt64(bytes.count))] ^= UInt8(1 << (rng.next() % 8)) }
      }
      let reference = Self.protobufC(bytes)
      guard let request = bytes.withUnsafeBytes({ EncodedRecords.request($0) }) else {
        left += 1
        continue
      }
      taken += 1
      guard case .ingestBatch(let batch) = request.body, case .encoded(let encoded) = batch.records else {
        Issue.record("not an encoded batch")
        continue
      }
      Self.compare(bytes, reference, encoded)
    }
    #expect(taken > 300 && left > 300, "taken \(taken), left to protobuf-c \(left)")
  }

  @Test func unusualFramesAreLeftToProtobufC() {
    let record = Self.frame([Array([0x0A, 0x01, 0x61])])
    #expect(record.withUnsafeBytes { EncodedRecords.request($0) } != nil)
    // A location twice (protobuf-c merges the two), another body, the batch twice, a long bool.
    var twice = PB()
    twice.field(1, Array("a".utf8))
    twice.field(5, [0x0A, 0x01, 0x78])
    twice.field(5, [0x12, 0x01, 0x79])
    var other = PB()
    other.field(1, varint: 1)
    other.field(14, [])
    other.field(23, [])
    var batchTwice = PB()
    batchTwice.field(23, [0x08, 0x01])
    batchTwice.field(23, [0x10, 0x01])
    var longBool = PB()
    longBool.field(23, [0x20, 0x81, 0x00])
    for bytes in [Self.frame([twice.bytes]), other.bytes, batchTwice.bytes, longBool.bytes] {
      #expect(bytes.withUnsafeBytes { EncodedRecords.request($0) } == nil, "\(bytes)")
    }
    for bytes in [Self.frame([twice.bytes]), other.bytes, longBool.bytes] {
      #expect((try? WireCodec.decodeRequest(ByteBuffer(bytes: bytes))) != nil, "protobuf-c reads \(bytes)")
    }
    // The batch twice is refused (protobuf-c kept only the second: NestingGuard).
    #expect(throws: AudienceError.self) { try WireCodec.decodeRequest(ByteBuffer(bytes: batchTwice.bytes)) }
    // The merged location, as protobuf-c reads it.
    let merged = try? WireCodec.decodeRequest(ByteBuffer(bytes: Self.frame([twice.bytes])))
    guard case .ingestBatch(let b)? = merged?.body else { return }
    #expect(b.records.rawRecords.map { [$0.state, $0.country] } == [["x", "y"]])
  }

  /// A record whose text protobuf-c would refuse is refused on its own: the others are kept.
  @Test func aRecordWithANULOrBadUTF8IsRefusedAlone() throws {
    var bad = PB()
    bad.field(1, Array("b".utf8))
    bad.field(2, [0x78, 0x00, 0x79])
    var notUTF8 = PB()
    notUTF8.field(1, [0x63, 0xFF])
    let bytes = Self.frame([[0x0A, 0x01, 0x61], bad.bytes, notUTF8.bytes])
    let request = try WireCodec.decodeRequest(ByteBuffer(bytes: bytes))
    guard case .ingestBatch(let batch) = request.body, case .encoded(let encoded) = batch.records else {
      Issue.record("not read as an encoded batch")
      return
    }
    let outcomes = encoded.outcomes
    #expect(outcomes == [
      "a", "data.email: contains a NUL byte at byte 1 (of 3), which the protocol cannot carry", "data.cookie: is not valid UTF-8",
    ])
  }

  /// A record of more interests than are kept (two bytes each, millions to a frame: their spans
  /// took 16 bytes each, 30 times the frame) keeps `interestsKept` of them, counts the rest, and
  /// is refused with the count; the record after it is read as usual.
  @Test func interestsPastWhatIsKeptAreCountedNotKept() throws {
    var many = PB()
    many.field(1, Array("m".utf8))
    let count = RawRecordBytes.interestsKept + 1_000
    for _ in 0..<count { many.field(7, []) }
    let bytes = Self.frame([many.bytes, [0x0A, 0x01, 0x61]])
    let request = try WireCodec.decodeRequest(ByteBuffer(bytes: bytes))
    guard case .ingestBatch(let batch) = request.body, case .encoded(let encoded) = batch.records else {
      Issue.record("not read as an encoded batch")
      return
    }
    var kept: [Int] = []
    encoded.forEach { _, fields in kept.append(fields.interests.count) } unreadable: { _, _ in kept.append(-1) }
    let outcomes = encoded.outcomes
    #expect(kept == [RawRecordBytes.interestsKept, 0])
    #expect(outcomes == ["data.interests: \(count) interests exceed the limit of 256", "a"])
  }

  /// A unary Ingest is read as a batch is (its records, field 1 of `IngestRequest`): the same
  /// records as protobuf-c reads, each refused alone where protobuf-c refused the request for
  /// its text; and damaged ones are left to protobuf-c or read as it reads them.
  @Test func ingestsReadAsProtobufCReadsThem() throws {
    var rng = SplitMix64(seed: 43)
    var fast = 0, left = 0
    for n in 0..<1_200 {
      let records = (0..<Int(1 + rng.next() % 8)).map { _ in Self.record(&rng) }
      var ingest = PB()
      for r in records { ingest.field(1, r) }
      if n % 7 == 0 { ingest.field(9, varint: 5) }  // an unknown field, skipped by both
      var request = PB()
      request.field(1, varint: UInt64(n))
      request.field(11, ingest.bytes)
      var bytes = request.bytes
      if n >= 400 { bytes[Int(rng.next() % UInt64(bytes.count))] ^= UInt8(1 << (rng.next() % 8)) }
      let reference = Self.protobufC(bytes)
      guard let mine = bytes.withUnsafeBytes({ EncodedRecords.request($0) }) else {
        left += 1
        continue
      }
      guard case .ingestReceived(let encoded) = mine.body else {
        Issue.record("not read as a received Ingest")
        continue
      }
      fast += 1
      #expect(n >= 400 || mine.id == UInt64(n))
      Self.compare(bytes, reference, encoded)
    }
    #expect(fast > 400 && left > 100, "read \(fast), left to protobuf-c \(left)")
  }

  /// An Ingest of millions of tiny fields (protobuf-c took 20-37 times its frame for them) is
  /// read in place: unknown fields skipped, interests past `interestsKept` counted.
  @Test func anIngestOfTinyFieldsIsReadInPlace() throws {
    var many = PB()
    many.field(1, Array("t".utf8))
    for _ in 0..<(RawRecordBytes.interestsKept + 4_464) { many.field(7, []) }
    for _ in 0..<100_000 { many.field(15, varint: 1) }
    var ingest = PB()
    ingest.field(1, many.bytes)
    var request = PB()
    request.field(1, varint: 3)
    request.field(11, ingest.bytes)
    let decoded = try WireCodec.decodeRequest(ByteBuffer(bytes: request.bytes))
    guard case .ingestReceived(let encoded) = decoded.body else {
      Issue.record("not read as a received Ingest")
      return
    }
    let outcomes = encoded.outcomes
    #expect(outcomes == ["data.interests: 70000 interests exceed the limit of 256"])
  }
}

extension EncodedRecords {
  /// Each record normalized as the server does it: its cookie, or why it is refused.
  var outcomes: [String] {
    var out: [String] = []
    forEach { _, fields in
      do throws(AudienceError) {
        out.append(try RecordNormalizer().normalize(fields).cookie)
      } catch {
        out.append(error.message)
      }
    } unreadable: { _, _ in out.append("unreadable") }
    return out
  }
}
