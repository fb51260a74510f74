import AudienceClient
import AudienceCore
import AudienceWire
import Testing

/// Pages read lazily from the real server are the pages `queryCohort` decodes, and
/// `cohortPages` visits every user once while writes arrive.
@Suite("Lazy pages end to end", .serialized)
struct LazyPagesEndToEndTests {
  static func record(_ i: Int) -> RawRecord {
    RawRecord(
      cookie: "c\(i)", email: "e\(i % 150)@example.com", createdAt: "2025-01-0\(1 + i % 9)T00:00:00Z", country: i % 3 == 0 ? "USA" : "France",
      city: "Città \(i % 7)", age: 18 + i % 60, gender: i % 2 == 0 ? "Female" : "Male", income: "\(20_000 + i * 37)",
      interests: i % 4 == 0 ? ["Gaming", "AI"] : ["Crypto"])
  }

  @Test func lazyPagesAreTheDecodedPages() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let client = try await server.client()
    _ = try await client.ingest((0..<300).map(Self.record))
    for filter in [nil, .strings(.country, ["USA"]), .interests(any: ["gaming"])] as [Filter?] {
      var cursor: String?
      var lazyUsers: [Record] = []
      var total = -1
      repeat {
        let query = CohortQuery(filter: filter, limit: 11, cursor: cursor)
        let decoded = try await client.queryCohort(query)
        let lazy = try await client.queryCohortLazily(query)
        #expect(try lazy.decoded() == decoded)
        lazyUsers += lazy.users.map { u in
          Record(
            cookie: u.cookie, email: u.email, phoneNumber: u.phoneNumber, createdAt: u.createdAt, location: u.location,
            demographics: u.demographics, interests: u.interests)
        }
        #expect(lazyUsers.suffix(decoded.users.count) == decoded.users[...])
        cursor = decoded.nextCursor
        total = lazy.total
      } while cursor != nil
      #expect(lazyUsers.count == total && total > 0)
      if filter == nil {
        // 150 people, each with the two cookies c(j) and c(j+150) of email e(j); each shows one of them.
        #expect(Set(lazyUsers.compactMap(\.email)) == Set((0..<150).map { "e\($0)@example.com" }))
        #expect(lazyUsers.allSatisfy { u in
          guard let j = u.email.flatMap({ Int($0.dropFirst().prefix { $0 != "@" }) }) else { return false }
          return u.cookie == "c\(j)" || u.cookie == "c\(j + 150)"
        })
        #expect(lazyUsers.allSatisfy { $0.location.city?.hasPrefix("Città ") == true && $0.createdAt != nil })
      }
    }
    await client.close()
    await server.stop()
  }

  @Test func cohortPagesVisitEveryUserOnceWhileWritesArrive() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let client = try await server.client()
    _ = try await client.ingest((0..<150).map(Self.record))
    var seen: [String] = []
    var pages = 0
    for try await page in client.cohortPages(CohortQuery(limit: 20)) {
      pages += 1
      seen += page.users.compactMap(\.email)
      // New people arrive while the pages are read (new profiles sort last).
      if pages <= 3 { _ = try await client.ingest([RawRecord(cookie: "n\(pages)", email: "new\(pages)@example.com")]) }
    }
    #expect(Set(seen).count == seen.count, "a user came twice")
    #expect(Set(seen).isSuperset(of: (0..<150).map { "e\($0)@example.com" }))
    #expect(seen.count == 153)
    #expect(pages == 8)
    // An error ends the pages with the server's status.
    await #expect(throws: WireStatus.self) {
      for try await _ in client.cohortPages(CohortQuery(cursor: "not-a-cursor")) {}
    }
    await client.close()
    await server.stop()
  }
}
