import AudienceClient
import AudienceCore
import AudienceWire
import Foundation
import Testing

/// `audience forget` and `audience export` against the real server, across a restart.
@Suite("Forget and export end to end", .serialized)
struct PrivacyEndToEndTests {
  @Test func forgetErasesThePersonEverywhereAndDurably() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let client = try await server.client()
    _ = try await client.ingest([
      RawRecord(cookie: "phone", email: "ann@x.com", createdAt: "2025-03-01T10:00:00", country: "USA", interests: ["AI"]),
      RawRecord(cookie: "laptop", email: "ANN@x.com", createdAt: "2025-03-02T10:00:00", country: "USA"),
      RawRecord(cookie: "laptop", createdAt: "2025-03-03T10:00:00", city: "Austin"),
      RawRecord(cookie: "bob", email: "bob@x.com", createdAt: "2025-03-01T10:00:00", country: "USA"),
    ])
    let segment = client.watch(.strings(.country, ["usa"]))
    var events = segment.events.makeAsyncIterator()
    #expect(try await events.next() == .started(total: 2))

    // Export: the merged view and every raw record, oldest first.
    let export = try CLI.json(try CLI.run(["export", "--cookie", "phone"], socket: server.socketPath))
    #expect(export["profile"]?["cookies"] == .array([.string("phone"), .string("laptop")]))
    guard case .array(let raws)? = export["records"] else { Issue.record("no records"); return }
    #expect(raws.map { $0["data"]?["created_at"] } == ["2025-03-01T10:00:00", "2025-03-02T10:00:00", "2025-03-03T10:00:00"].map { .string($0) })
    #expect(export["data"]?["location"]?["city"] == .string("Austin"))

    // History: which record brought which identifier.
    let history = try CLI.json(try CLI.run(["history", "--cookie", "laptop", "--json"], socket: server.socketPath))
    guard case .array(let entries)? = history["entries"] else { Issue.record("no entries"); return }
    #expect(entries.map { $0["change"] } == ["new profile: cookie phone, email ann@x.com", "added cookie laptop", "no new identifier"].map { .string($0) })

    // Forget by email erases every cookie of the person.
    let forget = try CLI.run(["forget", "--email", "Ann@X.com", "--json"], socket: server.socketPath)
    #expect(forget.status == 0, "\(forget.stderr)")
    #expect(try CLI.json(forget)["erased"]?["records"] == .int(3))
    guard case .forgotten? = try await events.next() else { Issue.record("the watch did not see it"); return }
    // Not in the database file nor in its write-ahead log, right away.
    for file in ["audience.db", "audience.db-wal"] {
      let bytes = (try? Data(contentsOf: URL(fileURLWithPath: server.dataDirectory + "/" + file))) ?? Data()
      #expect(bytes.range(of: Data("ann@x.com".utf8)) == nil, "\(file) still holds the erased email")
    }
    for cookie in ["phone", "laptop"] {
      await #expect(throws: WireStatus.self) { _ = try await client.user(cookie: cookie) }
    }
    let health = try await client.health()
    #expect(health.stats.profiles == 1)
    #expect(health.stats.records == 1)
    #expect(try await client.queryCohort(CohortQuery(filter: .interests(any: ["ai"]), countOnly: true)).total == 0)
    let again = try CLI.run(["forget", "--cookie", "phone"], socket: server.socketPath)
    #expect(again.status == 3)
    let both = try CLI.run(["forget", "--cookie", "phone", "--email", "x@y.z"], socket: server.socketPath)
    #expect(both.status == 64)
    await client.close()

    // After a restart the person is still gone and the others are still there.
    #expect(await server.stop() == 0)
    try await server.start()
    let after = try await server.client()
    #expect(try await after.health().stats.records == 1)
    await #expect(throws: WireStatus.self) { _ = try await after.user(cookie: "laptop") }
    #expect(try await after.export(.email("bob@x.com")).records.count == 1)
    await after.close()
    #expect(await server.stop() == 0)
    // Nothing of the person is left in the database file either.
    let db = try Data(contentsOf: URL(fileURLWithPath: server.dataDirectory + "/audience.db"))
    #expect(db.range(of: Data("ann@x.com".utf8)) == nil)
  }
}

/// `audience split` against the real server: the cookie stands alone, watchers see it, and it
/// stays so across a restart.
@Suite("Split end to end", .serialized)
struct SplitEndToEndTests {
  @Test func splitDetachesACookieDurably() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let client = try await server.client()
    _ = try await client.ingest([
      RawRecord(cookie: "c1", email: "a@x.com", createdAt: "2025-03-01T10:00:00", age: 25),
      RawRecord(cookie: "kiosk", email: "a@x.com", createdAt: "2025-03-02T10:00:00"),
      RawRecord(cookie: "kiosk", email: "b@x.com", createdAt: "2025-03-03T10:00:00"),
      RawRecord(cookie: "c2", email: "b@x.com", createdAt: "2025-03-04T10:00:00", age: 40),
    ])
    var events = client.watch(.age(min: 20, max: 30)).events.makeAsyncIterator()
    #expect(try await events.next() == .started(total: 0))  // the merged person's latest age is 40

    let split = try CLI.run(["split", "kiosk", "--json"], socket: server.socketPath)
    #expect(split.status == 0, "\(split.stderr)")
    guard case .array(let profiles)? = try CLI.json(split)["profiles"] else { Issue.record("no profiles"); return }
    #expect(profiles.map { $0["cookies"] } == [["kiosk"], ["c1"], ["c2"]].map { .array($0.map { .string($0) }) })
    guard case .enter(_, let entered)? = try await events.next() else { Issue.record("the watch did not see c1 enter"); return }
    #expect(entered.cookie == "c1")

    #expect(try CLI.json(split)["unlinked_emails"] == .array([]))

    let unknown = try CLI.run(["split", "nobody"], socket: server.socketPath)
    #expect(unknown.status == 3)
    #expect(unknown.stderr.contains("NOT_FOUND"))

    // A cookie alone in its profile keeps no email after a split: said, not left to be found.
    _ = try await client.ingest([RawRecord(cookie: "lone", email: "lone@x.com", createdAt: "2025-03-05T10:00:00")])
    let lone = try CLI.run(["split", "lone"], socket: server.socketPath)
    #expect(lone.status == 0 && lone.stdout.contains("unlinked:  lone@x.com (held by no profile now"), "\(lone.stdout)")

    let before = try await client.user(cookie: "kiosk")
    await client.close()
    #expect(await server.stop() == 0)
    try await server.start()
    let again = try await server.client()
    #expect(try await again.user(cookie: "kiosk") == before)
    #expect(try await again.user(cookie: "c1").summary.cookies == ["c1"])
    // Later records of the cookie do not link it again.
    let summary = try await again.ingest([RawRecord(cookie: "kiosk", email: "a@x.com", createdAt: "2025-03-05T10:00:00")])
    #expect(summary.capped == 1)
    #expect(try await again.user(cookie: "kiosk").summary.emails == [])
    await again.close()
    #expect(await server.stop() == 0)
  }

  /// After a split, an email only the split cookie's records carry links no person. Asking for it
  /// by email answered NOT_FOUND ("nobody") while the records were stored and served: now each
  /// privacy command says which cookie's records hold it and what to run.
  @Test func anEmailOnlyASplitCookieCarriesIsNotNobody() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let client = try await server.client()
    _ = try await client.ingest([
      RawRecord(cookie: "phone", email: "alice@zz.com", createdAt: "2025-03-10T10:00:00"),
      RawRecord(cookie: "kiosk", email: "alice@zz.com", createdAt: "2025-03-10T11:00:00"),
      RawRecord(cookie: "kiosk", email: "carol@zz.com", createdAt: "2025-03-10T14:00:00"),
    ])
    #expect(try CLI.run(["split", "kiosk"], socket: server.socketPath).status == 0)
    for command in ["forget", "export", "history"] {
      let r = try CLI.run([command, "--email", "Carol@zz.com"], socket: server.socketPath)
      #expect(r.status == 1, "\(command): \(r.stderr)")
      #expect(r.stderr.contains("FAILED_PRECONDITION: carol@zz.com is linked to no person, but records of cookie kiosk carry it"), "\(r.stderr)")
      #expect(r.stderr.contains("audience \(command) --cookie kiosk"), "\(r.stderr)")
    }
    #expect(try CLI.run(["forget", "--email", "nobody@zz.com"], socket: server.socketPath).status == 3)
    // Nothing was erased by the refusals; the cookie's person is there to forget.
    #expect(try await client.user(cookie: "kiosk").summary.records == 2)
    #expect(try CLI.run(["forget", "--cookie", "kiosk"], socket: server.socketPath).status == 0)
    #expect(try CLI.run(["export", "--email", "carol@zz.com"], socket: server.socketPath).status == 3)
    await client.close()
    #expect(await server.stop() == 0)
  }
}
