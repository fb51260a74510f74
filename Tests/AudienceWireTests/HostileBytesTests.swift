import AudienceCore
@testable import AudienceWire
import NIOCore
import Testing

/// Bytes that are not a well-formed request get an error that says what was wrong; never a crash.
@Suite("Hostile bytes")
struct HostileBytesTests {
  /// A QueryCohort of `filter`, encoded and decoded again.
  private func decoded(_ filter: Filter) throws -> WireRequest {
    var b = ByteBuffer()
    WireCodec.encode(WireRequest(id: 1, body: .queryCohort(CohortQuery(filter: filter))), into: &b)
    b.moveReaderIndex(forwardBy: 4)
    return try WireCodec.decodeRequest(b)
  }

  private func decodeError(_ bytes: [UInt8]) -> String? {
    do {
      _ = try WireCodec.decodeRequest(ByteBuffer(bytes: bytes))
      return nil
    } catch {
      return "\(error)"
    }
  }

  /// As `decodeError`, through protobuf-c alone: an Ingest reaches it when the server's own
  /// reader leaves the frame to it (a record holding its location twice, say).
  private func unpackError(_ bytes: [UInt8]) -> String? {
    do {
      _ = try bytes.withUnsafeBytes { try WireCodec.unpackRequest($0) }
      return nil
    } catch {
      return "\(error)"
    }
  }

  /// The outcome of each record of an Ingest frame the server reads itself: its cookie, or why
  /// it is refused (a record alone, as in a stream's batch).
  private func outcomes(_ bytes: [UInt8]) throws -> [String] {
    let request = try WireCodec.decodeRequest(ByteBuffer(bytes: bytes))
    guard case .ingestReceived(let received) = request.body else { return ["not read as received"] }
    return received.outcomes
  }

  @Test func httpIsNotAnAudienceRequest() {
    let message = decodeError(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
    #expect(message?.contains("not a valid audience.v1.Request") == true, "\(message ?? "decoded")")
  }

  @Test func everyTruncationOfAValidRequestIsRejectedOrDecodesAPrefix() throws {
    var b = ByteBuffer()
    WireCodec.encode(WireRequest(id: 9, body: .ingest([CodecRoundTripTests.seedRecord, RawRecord(cookie: "c2")])), into: &b)
    b.moveReaderIndex(forwardBy: 4)
    let bytes = Array(b.readableBytesView)
    var rejected = 0
    for cut in 1..<bytes.count {
      // A cut can land between fields (a valid, shorter message); inside a field it must fail.
      if decodeError(Array(bytes[..<cut])) != nil { rejected += 1 }
    }
    #expect(rejected > bytes.count / 2)
    #expect(decodeError(Array(bytes[..<(bytes.count - 1)]))?.contains("not a valid") == true)
  }

  @Test func invalidUTF8IsNamedByField() {
    // Request{id: 1, get_user: {cookie: 0xFF 0xFE}}
    let message = decodeError([0x08, 0x01, 0x62, 0x04, 0x0A, 0x02, 0xFF, 0xFE])
    #expect(message == "INVALID_ARGUMENT: cookie: is not valid UTF-8")
  }

  @Test func invalidUTF8InsideABatchNamesTheRecord() throws {
    // Request{id: 1, ingest: {records: [{cookie: "a"}, {cookie: "b", email: 0xFF}]}}
    let bytes: [UInt8] = [0x08, 0x01, 0x5A, 0x0D, 0x0A, 0x03, 0x0A, 0x01, 0x61, 0x0A, 0x06, 0x0A, 0x01, 0x62, 0x12, 0x01, 0xFF]
    let message = unpackError(bytes) ?? "decoded"
    #expect(message.contains("record 1"), "\(message)")
    #expect(message.contains("email"), "\(message)")
    // Read by the server itself: that record alone is refused, the other kept.
    #expect(try outcomes(bytes) == ["a", "data.email: is not valid UTF-8"])
  }

  /// protobuf-c hands strings over as C strings; a NUL byte sent by a client that does not check
  /// (any protobuf library can send one) must be refused, not cut ("b\0c" stored as "b").
  @Test func aNULByteInsideAStringIsRefusedByRecordAndField() throws {
    // Request{id: 1, ingest: {records: [{cookie: "a"}, {cookie: "b\0c"}]}}
    let bytes: [UInt8] = [0x08, 0x01, 0x5A, 0x0C, 0x0A, 0x03, 0x0A, 0x01, 0x61, 0x0A, 0x05, 0x0A, 0x03, 0x62, 0x00, 0x63]
    #expect(try outcomes(bytes) == ["a", "data.cookie: contains a NUL byte at byte 1 (of 3), which the protocol cannot carry"])
    let cookie = unpackError(bytes) ?? "decoded"
    #expect(cookie.hasPrefix("INVALID_ARGUMENT"), "\(cookie)")
    #expect(cookie.contains("record 1") && cookie.contains("data.cookie") && cookie.contains("NUL byte at byte 1 (of 3)"), "\(cookie)")
    // Request{id: 1, ingest: {records: [{cookie: "a", interests: ["ok", "x\0"]}]}}
    let interest = unpackError([
      0x08, 0x01, 0x5A, 0x0D, 0x0A, 0x0B, 0x0A, 0x01, 0x61, 0x3A, 0x02, 0x6F, 0x6B, 0x3A, 0x02, 0x78, 0x00,
    ]) ?? "decoded"
    #expect(interest.contains("record 0") && interest.contains("data.interests[1]") && interest.contains("NUL"), "\(interest)")
    // Request{id: 1, ingest: {records: [{cookie: "a", location: {city: "\0"}}]}}
    let city = unpackError([0x08, 0x01, 0x5A, 0x0A, 0x0A, 0x08, 0x0A, 0x01, 0x61, 0x2A, 0x03, 0x1A, 0x01, 0x00]) ?? "decoded"
    #expect(city.contains("data.location.city") && city.contains("NUL"), "\(city)")
  }

  @Test func emptyAndAbsentStringsAreNotMistakenForNULs() throws {
    // Request{id: 1, ingest: {records: [{cookie: "a", email: ""}, {cookie: "é"}]}}: an empty
    // string sent explicitly, fields left out, and a two-byte character.
    let bytes: [UInt8] = [0x08, 0x01, 0x5A, 0x0D, 0x0A, 0x05, 0x0A, 0x01, 0x61, 0x12, 0x00, 0x0A, 0x04, 0x0A, 0x02, 0xC3, 0xA9]
    let request = try bytes.withUnsafeBytes { try WireCodec.unpackRequest($0) }
    #expect(request.body == .ingest([RawRecord(cookie: "a"), RawRecord(cookie: "é")]))
    #expect(try outcomes(bytes) == ["a", "é"])
  }

  @Test func unknownMethodIsUnimplemented() throws {
    // Request{id: 5, field 30: 1}: a method from a newer protocol.
    do {
      _ = try WireCodec.decodeRequest(ByteBuffer(bytes: [0x08, 0x05, 0xF0, 0x01, 0x01]))
      Issue.record("decoded a request without a method")
    } catch let status as WireStatus {
      #expect(status.code == .unimplemented)
      #expect(status.message.contains("request 5"))
    }
  }

  @Test func anEmptyFilterNodeIsAnErrorNotMatchEverything() {
    // Request{id: 1, query_cohort: {filter: {}}}
    let message = decodeError([0x08, 0x01, 0x6A, 0x02, 0x0A, 0x00]) ?? "decoded"
    #expect(message.hasPrefix("INVALID_ARGUMENT: filter: has no predicate"), "\(message)")
  }

  @Test func anEmptyAllOrAnyListIsAnError() {
    // Request{id: 1, query_cohort: {filter: {all: {}}}}, then {any: {}}: not "everyone" and "no one".
    let all = decodeError([0x08, 0x01, 0x6A, 0x04, 0x0A, 0x02, 0x0A, 0x00]) ?? "decoded"
    #expect(all.hasPrefix("INVALID_ARGUMENT: filter.all: is an empty list"), "\(all)")
    let any = decodeError([0x08, 0x01, 0x6A, 0x04, 0x0A, 0x02, 0x12, 0x00]) ?? "decoded"
    #expect(any.hasPrefix("INVALID_ARGUMENT: filter.any: is an empty list"), "\(any)")
  }

  /// A oneof member twice: protobuf merges the two, protobuf-c kept only the last, so an Ingest
  /// written as two `ingest` fields lost the first one's records without a word. Refused.
  @Test func aMethodFieldTwiceIsRefusedNotHalfRead() {
    // Request{id: 200, ingest: {records: [{cookie: "spA"}]}, ingest: {records: [{cookie: "spB"}]}}
    let twice: [UInt8] = [0x08, 0xC8, 0x01, 0x5A, 0x07, 0x0A, 0x05, 0x0A, 0x03, 0x73, 0x70, 0x41, 0x5A, 0x07, 0x0A, 0x05, 0x0A, 0x03, 0x73, 0x70, 0x42]
    let error = decodeError(twice) ?? "decoded"
    #expect(error.hasPrefix("INVALID_ARGUMENT: the request holds its method field 11 (ingest) twice"), "\(error)")
    // ingest_batch {stream: 5, sequence: 0} then ingest_batch {records: [...]}: the stream's fields
    // were lost ("no ingest stream 0 is open").
    let batch: [UInt8] = [0x08, 0x01, 0xBA, 0x01, 0x04, 0x08, 0x05, 0x10, 0x00, 0xBA, 0x01, 0x07, 0x1A, 0x05, 0x0A, 0x03, 0x73, 0x70, 0x41]
    let batchError = decodeError(batch) ?? "decoded"
    #expect(batchError.hasPrefix("INVALID_ARGUMENT: the request holds its method field 23 (ingest_batch) twice"), "\(batchError)")
    // A filter node holding `age` twice.
    let node: [UInt8] = [0x08, 0x01, 0x6A, 0x08, 0x0A, 0x06, 0x52, 0x02, 0x08, 0x01, 0x52, 0x00]
    let nodeError = decodeError(node) ?? "decoded"
    #expect(nodeError.hasPrefix("INVALID_ARGUMENT: filter: holds its node field 10 twice"), "\(nodeError)")
    // A query's filter twice: {all: [age 20..]} then {all: [gender m]} was read as the second.
    let filters: [UInt8] = [
      0x08, 0x01, 0x6A, 0x15, 0x0A, 0x08, 0x0A, 0x06, 0x0A, 0x04, 0x52, 0x02, 0x08, 0x14,
      0x0A, 0x09, 0x0A, 0x07, 0x0A, 0x05, 0x5A, 0x03, 0x0A, 0x01, 0x6D,
    ]
    // Each alone is a valid request.
    #expect(decodeError([0x08, 0x01, 0x6A, 0x0A] + filters[4..<14]) == nil)
    #expect(decodeError([0x08, 0x01, 0x6A, 0x0B] + filters[14...]) == nil)
    let filtersError = decodeError(filters) ?? "decoded"
    #expect(filtersError.hasPrefix("INVALID_ARGUMENT: filter: comes twice in the request"), "\(filtersError)")
    // Two different members: the last wins, as protobuf says (health, then get_user).
    let different: [UInt8] = [0x08, 0x01, 0x72, 0x00, 0x62, 0x03, 0x0A, 0x01, 0x78]
    #expect(decodeError(different) == nil)
  }

  /// A filter's errors name the node: `any[1].income`, not `income`.
  @Test func filterErrorsNameTheNode() throws {
    #expect(throws: AudienceError.invalidField("filter.any[1].income", "min 9 is above max 1")) {
      try decoded(.any([.age(min: 1, max: 2), .income(min: 9, max: 1)]))
    }
    #expect(throws: AudienceError.invalidField("filter.all[0].not.age", "min 9 is above max 1")) {
      try decoded(.all([.not(.age(min: 9, max: 1)), .age(min: 1, max: 2)]))
    }
    // A list of no values matched no one (country) or everyone (interests_all): refused.
    #expect(throws: AudienceError.invalidField("filter.any[0].country", "lists no values")) {
      try decoded(.any([.strings(.country, []), .age(min: 1, max: 2)]))
    }
    #expect(throws: AudienceError.invalidField("filter.interests_all", "lists no values")) { try decoded(.interests(all: [])) }
  }

  private static func nested(_ depth: Int, all: Bool) -> Filter {
    var f: Filter = .age(min: 1, max: 2)
    for _ in 1..<depth { f = all ? .all([f]) : .not(f) }
    return f
  }

  @Test(arguments: [false, true])
  func filtersNestUpToThirtyTwoLevels(all: Bool) throws {
    for body in [WireRequest.Body.queryCohort(CohortQuery(filter: Self.nested(32, all: all))), .analyze(AnalyzeQuery(filter: Self.nested(32, all: all)))] {
      var b = ByteBuffer()
      WireCodec.encode(WireRequest(id: 1, body: body), into: &b)
      b.moveReaderIndex(forwardBy: 4)
      #expect(try WireCodec.decodeRequest(b).body == body)
    }
    for body in [WireRequest.Body.queryCohort(CohortQuery(filter: Self.nested(33, all: all))), .analyze(AnalyzeQuery(filter: Self.nested(33, all: all)))] {
      var b = ByteBuffer()
      WireCodec.encode(WireRequest(id: 1, body: body), into: &b)
      b.moveReaderIndex(forwardBy: 4)
      #expect(throws: AudienceError.invalidField("filter", "is nested deeper than 32 levels")) { try WireCodec.decodeRequest(b) }
    }
  }

  /// A filter is at most 256 nodes and 4,096 values, counted on the unpacked message before a
  /// Swift value is made of it: a wide tree (100,000 range predicates, half a megabyte) held the
  /// store's lock for seconds. A reversed range is refused as in an expression.
  @Test func wideFiltersAndReversedRangesAreRefused() throws {
    let leaf = Filter.created(min: 0, max: nil)
    _ = try decoded(.any(Array(repeating: leaf, count: 255)))
    #expect(throws: AudienceError.invalidField("filter", "has more than 256 predicates and operators; at most 256 (a list of values, country:A,B,C, is one; a run of one operator, a or b or c, is one)")) {
      try decoded(.any(Array(repeating: leaf, count: 10_000)))
    }
    let many = (0..<5_000).map { "c\($0)" }
    #expect(throws: AudienceError.invalidField("filter", "lists more than 4096 values; at most 4096")) { try decoded(.strings(.city, many)) }
    #expect(throws: AudienceError.invalidField("filter.age", "min 50 is above max 10")) { try decoded(.age(min: 50, max: 10)) }
    #expect(throws: AudienceError.invalidField("filter.created", "min 9 is above max 1")) { try decoded(.created(min: 9, max: 1)) }
    // An age no record can hold is refused as in an expression (age:200) and by the CLI; a
    // client's age_min=200 matched no one without a word.
    #expect(throws: AudienceError.invalidField("filter.age", "min 200 is not an age (0 to 130)")) { try decoded(.age(min: 200, max: nil)) }
    #expect(throws: AudienceError.invalidField("filter.age", "max -1 is not an age (0 to 130)")) { try decoded(.age(min: nil, max: -1)) }
    _ = try decoded(.age(min: 0, max: 130))
  }

  @Test func aMillionLevelsOfNotIsRejectedWithoutRecursingIntoIt() {
    // Filter{not: Filter{not: ... Filter{age: {}}}}, a million levels (about 5 MB): sizes are
    // computed inside out, bytes written outside in.
    let depth = 1_000_000
    var sizes = [2]  // Filter{age: {}} is 0x52 0x00
    for k in 1..<depth { sizes.append(1 + varint(sizes[k - 1]).count + sizes[k - 1]) }
    var filter: [UInt8] = []
    filter.reserveCapacity(sizes[depth - 1])
    for k in stride(from: depth - 1, through: 1, by: -1) { filter += [0x1A] + varint(sizes[k - 1]) }
    filter += [0x52, 0x00]
    let query: [UInt8] = [0x0A] + varint(filter.count) + filter
    let request: [UInt8] = [0x08, 0x01, 0x6A] + varint(query.count) + query
    #expect(decodeError(request) == "INVALID_ARGUMENT: filter: is nested deeper than 32 levels")
  }

  private func varint(_ n: Int) -> [UInt8] {
    var n = n, out: [UInt8] = []
    while n >= 0x80 { out.append(UInt8(n & 0x7F) | 0x80); n >>= 7 }
    out.append(UInt8(n))
    return out
  }

  @Test func randomBytesNeverCrash() {
    var rng = SystemRandomNumberGenerator()
    for _ in 0..<5_000 {
      let bytes = (0..<Int.random(in: 0...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
      _ = decodeError(bytes)
      _ = try? WireCodec.decodeResponse(ByteBuffer(bytes: bytes))
    }
  }

  /// A client is not crashed by a server's absurd counts: a uint64 past Int.max clamps.
  @Test func hugeCountsFromAServerClamp() throws {
    // Response { id: 1, health { profiles: 2^64 - 1 } }
    let bytes: [UInt8] = [0x08, 0x01, 0x72, 0x0B, 0x20, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]
    guard case .health(let info)? = try WireCodec.decodeResponse(ByteBuffer(bytes: bytes)).body else {
      Issue.record("not a Health response")
      return
    }
    #expect(info.stats.profiles == Int.max)
  }
}
