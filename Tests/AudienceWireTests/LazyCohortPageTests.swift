import AudienceCore
import AudienceWire
import Foundation
import NIOCore
import PropertyBased
import Testing

/// The lazy page reader reads exactly what protobuf-c reads: the same users with the same
/// fields from any page protobuf-c packs, and from damaged bytes either a refusal or, when
/// protobuf-c too reads them, the same page.
@Suite("Lazy cohort pages")
struct LazyCohortPageTests {
  /// A response frame's payload (without its length prefix).
  static func payload(_ page: CohortPage, id: UInt64 = 7) -> ByteBuffer {
    var b = ByteBuffer()
    WireCodec.encode(WireResponse(id: id, body: .queryCohort(page)), into: &b)
    b.moveReaderIndex(forwardBy: 4)
    return b
  }

  static func string(_ rng: inout SplitMix64) -> String? {
    let alphabets: [[String]] = [["a", "b", "Z", "0", " ", "-", "@", "."], ["é", "ü", "ß", "中", "🚀", "x"]]
    switch Int.random(in: 0..<6, using: &rng) {
    case 0: return nil
    case 1: return String(repeating: "k", count: Int.random(in: 100...400, using: &rng))
    default:
      let alphabet = alphabets[Int.random(in: 0..<2, using: &rng)]
      return (0..<Int.random(in: 1...20, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }.joined()
    }
  }

  static func record(_ rng: inout SplitMix64) -> Record {
    Record(
      cookie: string(&rng) ?? "c", email: string(&rng), phoneNumber: string(&rng),
      createdAt: Bool.random(using: &rng) ? nil : Timestamp(seconds: Int64.random(in: -1_000_000_000...2_000_000_000, using: &rng)),
      location: Location(state: string(&rng), country: string(&rng), city: string(&rng)),
      demographics: Demographics(
        age: Bool.random(using: &rng) ? nil : Int.random(in: -3...300, using: &rng), gender: string(&rng),
        income: string(&rng), education: string(&rng)),
      interests: (0..<Int.random(in: 0...12, using: &rng)).map { _ in string(&rng) ?? "" })
  }

  static func page(_ rng: inout SplitMix64) -> CohortPage {
    let users = (0..<Int.random(in: 0...40, using: &rng)).map { _ in record(&rng) }
    let total = Bool.random(using: &rng) ? users.count : Int.random(in: 0...Int(Int64.max), using: &rng)
    return CohortPage(total: total, users: users, nextCursor: Bool.random(using: &rng) ? nil : "p\(Int.random(in: 0...1 << 40, using: &rng))")
  }

  /// What protobuf-c's reader (`queryCohort`) makes of a payload: nil when protobuf-c refuses
  /// the bytes (or they are not a page), a failure when it parses them but a string is not
  /// UTF-8, else the page.
  static func protobufC(_ payload: ByteBuffer) -> Result<CohortPage, any Error>? {
    do {
      guard case .queryCohort(let page)? = try WireCodec.decodeResponse(payload).body else { return nil }
      return .success(page)
    } catch {
      return "\(error)".contains("not an audience.v1.Response") ? nil : .failure(error)
    }
  }

  @Test func randomPagesReadAsProtobufCReadsThem() async {
    await propertyCheck(count: 200, input: Gen.int(in: 0...1_000_000)) { seed in
      var rng = SplitMix64(seed: UInt64(seed))
      let page = Self.page(&rng)
      let payload = Self.payload(page)
      guard case .success(let expected)? = Self.protobufC(payload) else {
        Issue.record("seed \(seed): protobuf-c did not read its own page")
        return
      }
      do {
        guard let lazy = try LazyCohortPage(payload) else {
          Issue.record("seed \(seed): not read as a page")
          return
        }
        #expect(try lazy.decoded() == expected, "seed \(seed)")
        #expect(lazy.total == expected.total && lazy.nextCursor == expected.nextCursor)
        #expect(LazyCohortPage.nextCursor(in: payload) == expected.nextCursor)
        #expect(lazy.users.count == expected.users.count)
        for (user, record) in zip(lazy.users, expected.users) {
          // Each field read on its own is the decoded record's.
          let read = Record(
            cookie: user.cookie, email: user.email, phoneNumber: user.phoneNumber, createdAt: user.createdAt,
            location: user.location, demographics: user.demographics, interests: user.interests)
          #expect(read == record, "seed \(seed)")
        }
      } catch {
        Issue.record("seed \(seed): \(error)")
      }
    }
  }

  /// A random page's payload with one to four random bytes changed, cut or inserted.
  static func damaged(seed: Int) -> [UInt8] {
    var rng = SplitMix64(seed: UInt64(seed))
    var bytes = Array(Self.payload(Self.page(&rng)).readableBytesView)
    for _ in 0..<Int.random(in: 1...4, using: &rng) where !bytes.isEmpty {
      let at = Int.random(in: 0..<bytes.count, using: &rng)
      switch Int.random(in: 0..<4, using: &rng) {
      case 0: bytes[at] = UInt8.random(in: 0...255, using: &rng)
      case 1: bytes[at] ^= 1 << UInt8.random(in: 0...7, using: &rng)
      case 2: bytes.removeSubrange(at...)
      default: bytes.insert(contentsOf: (0..<Int.random(in: 1...6, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }, at: at)
      }
    }
    return bytes
  }

  /// Whether some user of a page holds `demographics` more than once. protobuf-c refuses such
  /// a record when no part of it has the age (merging two parts of a message whose oneof is
  /// unset fails: seed 974562); protobuf's rule, which the lazy reader follows, is to merge them.
  static func demographicsInParts(_ bytes: [UInt8]) -> Bool {
    func fields(_ range: Range<Int>) -> [(field: UInt64, value: Range<Int>)]? {
      var out: [(UInt64, Range<Int>)] = []
      var i = range.lowerBound
      func varint() -> UInt64? {
        var v: UInt64 = 0, shift: UInt64 = 0
        while i < range.upperBound, shift < 64 {
          let b = bytes[i]
          i += 1
          v |= UInt64(b & 0x7F) << shift
          if b < 0x80 { return v }
          shift += 7
        }
        return nil
      }
      while i < range.upperBound {
        guard let key = varint() else { return nil }
        switch key & 7 {
        case 0: guard varint() != nil else { return nil }
        case 2:
          guard let n = varint(), n <= UInt64(range.upperBound - i) else { return nil }
          out.append((key >> 3, i..<(i + Int(n))))
          i += Int(n)
        default: return nil
        }
      }
      return out
    }
    for body in fields(0..<bytes.count) ?? [] where body.field == 13 {
      for user in fields(body.value) ?? [] where user.field == 2 {
        if (fields(user.value) ?? []).filter({ $0.field == 6 }).count > 1 { return true }
      }
    }
    return false
  }

  @Test func damagedPagesAreRefusedOrReadAsProtobufCReadsThem() async {
    // AUDIENCE_DAMAGED_PAGES=60000 for a deeper run (about three minutes in a debug build).
    let count = ProcessInfo.processInfo.environment["AUDIENCE_DAMAGED_PAGES"].flatMap { Int($0) } ?? 400
    await propertyCheck(count: count, input: Gen.int(in: 0...1_000_000)) { seed in
      let bytes = Self.damaged(seed: seed)
      let payload = ByteBuffer(bytes: bytes)
      let expected = Self.protobufC(payload)
      do {
        guard let lazy = try LazyCohortPage(payload) else { return }  // not a plain page: protobuf-c reads it
        switch (expected, Result(catching: { try lazy.decoded() })) {
        case (nil, _):
          if !Self.demographicsInParts(bytes) { Issue.record("seed \(seed): read as a page, but protobuf-c refuses \(bytes)") }
        case (.success(let page)?, .success(let decoded)):
          #expect(decoded == page, "seed \(seed)")
          #expect(lazy.total == page.total && lazy.nextCursor == page.nextCursor, "seed \(seed)")
        case (.success?, .failure(let error)):
          Issue.record("seed \(seed): \(error), while protobuf-c reads it: \(bytes)")
        case (.failure?, .success):
          Issue.record("seed \(seed): decoded, while protobuf-c finds a string that is not UTF-8: \(bytes)")
        case (.failure?, .failure):
          break  // both refuse a string that is not UTF-8
        }
      } catch {
        // Refused as malformed: protobuf-c must refuse it too.
        if case .success? = expected { Issue.record("seed \(seed): \(error), while protobuf-c reads it: \(bytes)") }
      }
    }
  }

  @Test func otherResponsesAreLeftToProtobufC() throws {
    var b = ByteBuffer()
    WireCodec.encode(WireResponse(id: 3, status: WireStatus(.invalidArgument, "cursor: no")), into: &b)
    b.moveReaderIndex(forwardBy: 4)
    #expect(try LazyCohortPage(b) == nil)
    #expect(LazyCohortPage.nextCursor(in: b) == nil)
    var h = ByteBuffer()
    WireCodec.encode(WireResponse(id: 4, body: .health(HealthInfo(status: "ok", serverVersion: "1", store: "embedded", stats: StoreStats(profiles: 1, records: 1, repeatedEmails: 0), uptimeSeconds: 1, connections: 1))), into: &h)
    h.moveReaderIndex(forwardBy: 4)
    #expect(try LazyCohortPage(h) == nil)
  }

  @Test func aMalformedPageSaysWhereAndWhat() {
    // Response{id: 1, query_cohort: {users: [Record{cookie: length 9 past the end}]}}
    let bytes: [UInt8] = [0x08, 0x01, 0x6A, 0x04, 0x12, 0x02, 0x0A, 0x09]
    #expect(throws: AudienceError.self) { try LazyCohortPage(ByteBuffer(bytes: bytes)) }
    let message = (try? LazyCohortPage(ByteBuffer(bytes: bytes))).map { _ in "read" } ?? {
      do { _ = try LazyCohortPage(ByteBuffer(bytes: bytes)); return "read" } catch { return "\(error)" }
    }()
    #expect(message.contains("not valid protobuf: a length of 9 past the end at byte 8"), "\(message)")
  }

  @Test func invalidUTF8IsRepairedWhenReadAndRefusedWhenDecoded() throws {
    // Response{id: 1, query_cohort: {users: [Record{cookie: 0xFF 'a'}]}}
    let bytes: [UInt8] = [0x08, 0x01, 0x6A, 0x06, 0x12, 0x04, 0x0A, 0x02, 0xFF, 0x61]
    let page = try #require(try LazyCohortPage(ByteBuffer(bytes: bytes)))
    #expect(page.users.first?.cookie == "\u{FFFD}a")
    #expect(throws: AudienceError.self) { try page.decoded() }
  }
}
