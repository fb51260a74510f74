import AudienceCore
@testable import AudienceWire
import NIOCore
import Testing

/// Every request and response goes through protobuf-c and back unchanged.
@Suite("Codec round trips")
struct CodecRoundTripTests {
  static func payload(_ encode: (inout ByteBuffer) -> Void) -> ByteBuffer {
    var b = ByteBuffer()
    encode(&b)
    let length = b.readInteger(endianness: .big, as: UInt32.self)!
    #expect(Int(length) == b.readableBytes, "the length prefix does not match the payload")
    return b
  }

  /// An Ingest comes back as the server reads it (`.ingestReceived`): compared by its records.
  static func roundTrip(_ request: WireRequest) throws -> WireRequest {
    var back = try WireCodec.decodeRequest(payload { WireCodec.encode(request, into: &$0) })
    if case .ingestReceived(let received) = back.body { back.body = .ingest(received.rawRecords) }
    return back
  }

  static func roundTrip(_ response: WireResponse) throws -> WireResponse {
    try WireCodec.decodeResponse(payload { WireCodec.encode(response, into: &$0) })
  }

  static let seedRecord = RawRecord(
    cookie: "qTIRvAeXNymhUQBhSyWd", email: "john.doe@example.com", phoneNumber: "+1-555-0100",
    createdAt: "03/10/2025 15:30", state: "California", country: "USA", city: "Los Angeles", age: 29,
    gender: "Male", income: "75000", education: "Bachelor's", interests: ["Gaming", "AI", "Crypto 🚀"])

  static let filter: Filter = .all([
    .age(min: 20, max: 30),
    .any([.interests(any: ["gaming", "ai"]), .interests(all: ["crypto"])]),
    .not(.strings(.country, ["usa", "canada"])),
    .income(min: nil, max: 30_000),
    .interests(none: ["golf"]),
    .age(min: 65, max: nil),
    .any([.categories(["Finance", "other"]), .incomeLabels(["High"]), .cohort(true), .cohort(false)]),
    .created(min: 1_700_000_000, max: nil), .seen(min: nil, max: -5),
  ])

  static let requests: [WireRequest] = [
    WireRequest(id: 1, body: .hello(protocolVersion: audienceProtocolVersion, clientName: "tests")),
    WireRequest(id: 2, timeoutMs: 1500, body: .ingest([seedRecord, RawRecord(cookie: "c2"), RawRecord(cookie: "c3", age: 0)])),
    WireRequest(id: 3, body: .ingest([])),
    WireRequest(id: UInt64.max, body: .getUser(cookie: "qTIRvAeXNymhUQBhSyWd")),
    WireRequest(id: 5, body: .queryCohort(CohortQuery())),
    WireRequest(id: 6, body: .queryCohort(CohortQuery(filter: filter, cookie: "c1", limit: 7, cursor: "p42", countOnly: true))),
    WireRequest(id: 7, body: .health),
    WireRequest(id: 8, body: .analyze(AnalyzeQuery())),
    WireRequest(id: 9, body: .analyze(AnalyzeQuery(filter: filter, cookie: "c9", topN: 5, ageBins: 7, k: 4, features: [.age, .income]))),
    WireRequest(id: 10, body: .watch(nil)),
    WireRequest(id: 11, body: .watch(filter)),
    WireRequest(id: 12, body: .cancel(requestID: 11)),
    WireRequest(id: 13, body: .forget(.cookie("AbC"))),
    WireRequest(id: 14, body: .forget(.email("a@x.com"))),
    WireRequest(id: 15, body: .export(.cookie("c1"))),
    WireRequest(id: 16, body: .history(.email("a@x.com"))),
  ]

  @Test(arguments: requests)
  func requestsRoundTrip(_ request: WireRequest) throws {
    #expect(try Self.roundTrip(request) == request)
  }

  static let record = Record(
    cookie: "c1", email: "a@x.com", phoneNumber: "555", createdAt: Timestamp(year: 2025, month: 3, day: 10, hour: 15, minute: 30),
    location: Location(state: "Ontario", country: "Canada", city: "Toronto"),
    demographics: Demographics(age: 31, gender: "Female", income: "50000", education: "PhD"), interests: ["Yoga", "AI"])

  static var report: AudienceReport {
    var r = AudienceReport(total: 3)
    r.countries = [NamedCount("USA", 2), NamedCount("Canada", 1)]
    r.states = [NamedCount("Ontario", 1)]
    r.cities = [NamedCount("Toronto", 1)]
    r.genders = [NamedCount("Female", 2), NamedCount("Male", 1)]
    r.education = [NamedCount("PhD", 3)]
    r.incomeBands = [NamedCount("50k-75k", 1), NamedCount("Unknown", 2)]
    r.interests = [NamedCount("AI", 3), NamedCount("Yoga", 1)]
    r.categories = [NamedCount("Sports", 1), NamedCount("Tech", 3), NamedCount("Other", 0)]
    r.ageHistogram = [HistogramBin(from: 18, to: 30.5, count: 2), HistogramBin(from: 30.5, to: 43, count: 1)]
    r.withAge = 3
    r.kmeans = KMeansSummary(
      features: [.age], centroids: [[21.5], [43.25]], sizes: [2, 1], inertia: 0.125,
      ageClusters: [.init(age: 20, cluster: 0, count: 1), .init(age: 23, cluster: 0, count: 1), .init(age: 43, cluster: 1, count: 1)])
    return r
  }

  static let responses: [WireResponse] = [
    WireResponse(
      id: 1, body: .hello(HelloInfo(protocolVersion: 1, serverVersion: "0.1.0", maxFrameBytes: 4 << 20, maxRecordsPerBatch: 10_000, maxInFlight: 64))),
    WireResponse(
      id: 2,
      body: .ingest(
        IngestSummary(outcomes: [
          .created(1), .updated(1), .merged(1, absorbed: [4, 7]), .duplicate(1),
          .rejected(.invalidField("data.demographics.age", "-5 is outside 0...130")),
        ]))),
    WireResponse(
      id: 3,
      body: .getUser(
        UserView(
          data: record,
          summary: ProfileSummary(
            id: 12, cookies: ["c1", "c2"], emails: ["a@x.com"], records: 3, repeatedEmails: ["a@x.com"],
            firstSeen: Timestamp(seconds: 1_700_000_000), lastSeen: Timestamp(seconds: 1_750_000_000))))),
    WireResponse(id: 4, body: .queryCohort(CohortPage(total: 2, users: [record, Record(cookie: "bare")], nextCursor: "p9"))),
    WireResponse(id: 5, body: .queryCohort(CohortPage(total: 0, users: [], nextCursor: nil))),
    WireResponse(
      id: 6,
      body: .health(
        HealthInfo(
          status: "SERVING", serverVersion: "0.1.0", store: "embedded",
          stats: StoreStats(profiles: 10, records: 12, repeatedEmails: 1), uptimeSeconds: 99, connections: 2))),
    WireResponse(id: 7, body: .analyze(report)),
    WireResponse(id: 8, body: .analyze(AudienceReport(total: 0))),
    WireResponse(id: 9, status: WireStatus(.notFound, "no user with cookie \"zz\"")),
    WireResponse(id: 10, status: WireStatus(.resourceExhausted, "record 3: data.location.city: longer than 1024 bytes")),
    WireResponse(id: 11, body: .watch(.started(total: 0))),
    WireResponse(id: 11, body: .watch(.started(total: 1_000_000))),
    WireResponse(id: 11, body: .watch(.enter(0, profile: record))),
    WireResponse(id: 11, body: .watch(.leave(7, profile: record, mergedInto: nil))),
    WireResponse(id: 11, body: .watch(.leave(7, profile: nil, mergedInto: 0))),
    WireResponse(id: 11, body: .watch(.ended)),
    WireResponse(id: 12, body: .cancel(found: true)),
    WireResponse(id: 12, body: .cancel(found: false)),
    WireResponse(id: 11, body: .watch(.forgotten(3))),
    WireResponse(
      id: 13,
      body: .forget(
        ProfileSummary(
          id: 3, cookies: ["c1"], emails: [], records: 2, repeatedEmails: [],
          firstSeen: Timestamp(seconds: 1_700_000_000), lastSeen: Timestamp(seconds: 1_700_000_000)))),
    WireResponse(
      id: 15,
      body: .export(
        PersonExport(
          data: record,
          summary: ProfileSummary(
            id: 3, cookies: ["c1", "c2"], emails: ["a@x.com"], records: 2, repeatedEmails: ["a@x.com"],
            firstSeen: Timestamp(seconds: 1_700_000_000), lastSeen: Timestamp(seconds: 1_750_000_000)),
          records: [record, Record(cookie: "c2")]))),
    WireResponse(
      id: 16,
      body: .history(
        PersonHistory(
          summary: ProfileSummary(
            id: 3, cookies: ["c1"], emails: [], records: 1, repeatedEmails: [],
            firstSeen: Timestamp(seconds: 1_700_000_000), lastSeen: Timestamp(seconds: 1_700_000_000)),
          entries: [HistoryEntry(record: record, change: "new profile: cookie c1")]))),
  ]

  @Test(arguments: responses)
  func responsesRoundTrip(_ response: WireResponse) throws {
    #expect(try Self.roundTrip(response) == response)
  }

  @Test func everyCoreErrorCodeHasAWireCode() {
    let pairs: [(AudienceError.Code, StatusCode)] = [
      (.invalidArgument, .invalidArgument), (.notFound, .notFound), (.resourceExhausted, .resourceExhausted),
      (.failedPrecondition, .failedPrecondition), (.deadlineExceeded, .deadlineExceeded), (.unavailable, .unavailable),
      (.internal, .internal), (.cancelled, .cancelled), (.unimplemented, .unimplemented),
    ]
    for (core, wire) in pairs { #expect(StatusCode(core) == wire) }
    #expect("\(StatusCode.invalidArgument)" == "INVALID_ARGUMENT")
    #expect("\(StatusCode.deadlineExceeded)" == "DEADLINE_EXCEEDED")
    #expect("\(StatusCode(rawValue: 99))" == "STATUS_99")
  }

  @Test func peekFindsTheIDOfARequestThatFailsLater() {
    let bytes = Self.payload {
      WireCodec.encode(WireRequest(id: 300, body: .getUser(cookie: "x")), into: &$0)
    }
    #expect(WireCodec.peekRequestID(bytes) == 300)
    #expect(WireCodec.peekRequestID(ByteBuffer(bytes: [0x12, 0x00])) == 0)
    #expect(WireCodec.peekRequestID(ByteBuffer(bytes: [0x08, 0xFF])) == 0)
  }
}
