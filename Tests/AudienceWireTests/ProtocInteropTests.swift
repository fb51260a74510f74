import AudienceCore
@testable import AudienceWire
import Foundation
import NIOCore
import Testing

/// Our protobuf-c encoding is the schema's encoding: Google's protoc reads what we write and
/// writes what we read. (`make deps` installs protoc; without it these tests fail.)
@Suite("protoc interop")
struct ProtocInteropTests {
  static let protos = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Protos").path

  static func protoc(_ mode: String, _ type: String, input: Data) throws -> Data {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["protoc", "--\(mode)=audience.v1.\(type)", "-I", protos, "audience/v1/envelope.proto"]
    let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
    process.standardInput = stdin
    process.standardOutput = stdout
    process.standardError = stderr
    try process.run()
    stdin.fileHandleForWriting.write(input)
    try stdin.fileHandleForWriting.close()
    let out = stdout.fileHandleForReading.readDataToEndOfFile()
    let err = stderr.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
      throw AudienceError(.internal, "protoc --\(mode) failed: \(String(decoding: err, as: UTF8.self))")
    }
    return out
  }

  @Test func protocDecodesOurRequests() throws {
    var b = ByteBuffer()
    let query = CohortQuery(
      filter: .all([.age(min: 20, max: 30), .interests(any: ["gaming"])]), cookie: "c1", limit: 5, countOnly: true)
    WireCodec.encode(WireRequest(id: 6, timeoutMs: 250, body: .queryCohort(query)), into: &b)
    b.moveReaderIndex(forwardBy: 4)
    let text = String(decoding: try Self.protoc("decode", "Request", input: Data(b.readableBytesView)), as: UTF8.self)
    for expected in ["id: 6", "timeout_ms: 250", "query_cohort {", "cookie: \"c1\"", "limit: 5", "count_only: true", "interests_any {", "\"gaming\""] {
      #expect(text.contains(expected), "protoc's text lacks \(expected):\n\(text)")
    }
  }

  @Test func protocDecodesOurResponses() throws {
    var b = ByteBuffer()
    WireCodec.encode(CodecRoundTripTests.responses[2], into: &b)
    b.moveReaderIndex(forwardBy: 4)
    let text = String(decoding: try Self.protoc("decode", "Response", input: Data(b.readableBytesView)), as: UTF8.self)
    for expected in ["get_user {", "cookie: \"c1\"", "email: \"a@x.com\"", "created_at: \"2025-03-10T15:30:00\"", "country: \"Canada\"", "age: 31", "interests: \"Yoga\"", "cookies: \"c2\""] {
      #expect(text.contains(expected), "protoc's text lacks \(expected):\n\(text)")
    }
  }

  @Test func weDecodeWhatProtocEncodes() throws {
    let text = """
      id: 77
      timeout_ms: 1000
      ingest {
        records { cookie: "abc" email: "A@X.COM" created_at: "03/10/2025 15:30"
                  location { country: "USA" } demographics { age: 29 } interests: "Gaming" }
      }
      """
    let bytes = try Self.protoc("encode", "Request", input: Data(text.utf8))
    var request = try WireCodec.decodeRequest(ByteBuffer(bytes: bytes))
    // An Ingest is read by the server itself: its records, as protobuf-c reads them.
    if case .ingestReceived(let received) = request.body { request.body = .ingest(received.rawRecords) }
    #expect(
      request
        == WireRequest(
          id: 77, timeoutMs: 1000,
          body: .ingest([RawRecord(cookie: "abc", email: "A@X.COM", createdAt: "03/10/2025 15:30", country: "USA", age: 29, interests: ["Gaming"])])))
  }

  /// `where` text is parsed by the server and combined with the `filter` tree by and.
  @Test func whereTextBecomesAFilter() throws {
    func decode(_ text: String) throws -> WireRequest {
      try WireCodec.decodeRequest(ByteBuffer(bytes: try Self.protoc("encode", "Request", input: Data(text.utf8))))
    }
    let q = try decode(#"id: 5 query_cohort { where: "age:20..30 and not country:USA" filter { gender { values: "Female" } } }"#)
    #expect(
      q.body
        == .queryCohort(
          CohortQuery(filter: .all([.strings(.gender, ["female"]), .all([.age(min: 20, max: 30), .not(.strings(.country, ["usa"]))])]))))
    let w = try decode(#"id: 6 watch { where: "interest:AI" }"#)
    #expect(w.body == .watch(.interests(any: ["ai"])))
    let a = try decode(#"id: 7 analyze { where: "  " }"#)
    guard case .analyze(let query) = a.body else { Issue.record("not analyze"); return }
    #expect(query.filter == nil)
    #expect {
      try decode(#"id: 8 query_cohort { where: "age:20..30 and (" }"#)
    } throws: { error in
      (error as? AudienceError)?.message.hasPrefix("where: column 17: expected a predicate") == true
    }
  }
}
