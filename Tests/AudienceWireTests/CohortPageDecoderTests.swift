import AudienceCore
import NIOCore
import Testing

@testable import AudienceWire

/// The direct page decoder gives exactly what protobuf-c gives, or steps aside.
@Suite("Cohort page decoder")
struct CohortPageDecoderTests {
  static func payload(_ response: WireResponse) -> [UInt8] {
    var b = ByteBuffer()
    WireCodec.encode(response, into: &b)
    b.moveReaderIndex(forwardBy: 4)
    return Array(b.readableBytesView)
  }

  static func direct(_ bytes: [UInt8]) -> WireResponse? { bytes.withUnsafeBytes { CohortPageDecoder.decode($0) } }

  static func viaProtobufC(_ bytes: [UInt8]) -> Result<WireResponse, any Error> {
    Result { try WireCodec.decodeResponseWithProtobufC(ByteBuffer(bytes: bytes)) }
  }

  static func randomRecord(_ rng: inout SplitMix64) -> Record {
    let words = ["", "a", "USA", "Île-de-France", "😀 emoji", "München", String(repeating: "x", count: 300), "c42", "Ontario"]
    func word() -> String { words.randomElement(using: &rng)! }
    func maybe() -> String? { Bool.random(using: &rng) ? nil : word() }
    return Record(
      cookie: word(), email: maybe(), phoneNumber: maybe(),
      createdAt: Bool.random(using: &rng) ? nil : Timestamp(seconds: Int64.random(in: 0...2_000_000_000, using: &rng)),
      location: Location(state: maybe(), country: maybe(), city: maybe()),
      demographics: Demographics(
        age: Bool.random(using: &rng) ? nil : Int.random(in: -3...200, using: &rng), gender: maybe(), income: maybe(),
        education: maybe()),
      interests: (0..<Int.random(in: 0...5, using: &rng)).map { _ in word() })
  }

  @Test func canonicalPagesDecodeAsWithProtobufC() throws {
    var rng = SplitMix64(seed: 11)
    for round in 0..<300 {
      let users = (0..<Int.random(in: 0...40, using: &rng)).map { _ in Self.randomRecord(&rng) }
      let page = CohortPage(
        total: Int.random(in: 0...1_000_000, using: &rng), users: users, nextCursor: Bool.random(using: &rng) ? nil : "p\(round)")
      let bytes = Self.payload(WireResponse(id: UInt64.random(in: 0...UInt64.max, using: &rng), body: .queryCohort(page)))
      let fast = try #require(Self.direct(bytes), "round \(round): a canonical page was not decoded directly")
      #expect(fast == (try Self.viaProtobufC(bytes).get()), "round \(round)")
    }
  }

  @Test func anythingElseIsLeftToProtobufC() throws {
    var rng = SplitMix64(seed: 12)
    let page = CohortPage(total: 3, users: (0..<3).map { _ in Self.randomRecord(&rng) }, nextCursor: "p9")
    let bytes = Self.payload(WireResponse(id: 7, body: .queryCohort(page)))
    // Other responses.
    #expect(Self.direct(Self.payload(WireResponse(id: 1, body: .health(HealthInfo(
      status: "serving", serverVersion: "x", store: "embedded", stats: StoreStats(profiles: 1, records: 1, repeatedEmails: 0),
      uptimeSeconds: 1, connections: 1))))) == nil)
    #expect(Self.direct(Self.payload(WireResponse(id: 1, status: WireStatus(.notFound, "no")))) == nil)
    // A NUL inside a string (protobuf-c's C strings end there) and invalid UTF-8.
    // Response { id: 1, query_cohort { users { cookie: "a\0b" } } }, then the same with 0xFF.
    #expect(Self.direct([0x08, 0x01, 0x6A, 0x07, 0x12, 0x05, 0x0A, 0x03, 0x61, 0x00, 0x62]) == nil)
    #expect(Self.direct([0x08, 0x01, 0x6A, 0x07, 0x12, 0x05, 0x0A, 0x03, 0x61, 0xFF, 0x62]) == nil)
    #expect(Self.direct([0x08, 0x01, 0x6A, 0x07, 0x12, 0x05, 0x0A, 0x03, 0x61, 0x61, 0x62])?.body
      == .queryCohort(CohortPage(total: 0, users: [Record(cookie: "aab")], nextCursor: nil)))
    // Every mutation of the bytes: either the same answer as protobuf-c, or left to it.
    for _ in 0..<3000 {
      var damaged = bytes
      for _ in 0..<Int.random(in: 1...3, using: &rng) {
        let i = Int.random(in: 0..<damaged.count, using: &rng)
        switch Int.random(in: 0..<3, using: &rng) {
        case 0: damaged[i] = UInt8.random(in: 0...255, using: &rng)
        case 1: damaged.remove(at: i)
        default: damaged.insert(UInt8.random(in: 0...255, using: &rng), at: i)
        }
        if damaged.isEmpty { break }
      }
      guard let fast = Self.direct(damaged) else { continue }
      switch Self.viaProtobufC(damaged) {
      case .success(let slow): #expect(fast == slow, "bytes \(damaged)")
      case .failure(let error): Issue.record("decoded directly what protobuf-c refuses (\(error)): \(damaged)")
      }
    }
  }
}
