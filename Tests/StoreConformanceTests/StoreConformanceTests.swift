import AudienceCore
import Synchronization
@testable import AudienceMongo
import Testing

/// The same rules, checked on every store: identity resolution, cohorts, segments, idempotency,
/// forgetting. The MongoDB store runs against scripts/mongo-test-server through libmongoc.
@Suite("Store conformance")
struct StoreConformanceTests {
  typealias R = Records

  @Test(arguments: StoreKind.allCases)
  func identityRules(_ kind: StoreKind) async throws {
    let s = try StoreUnderTest.open(kind)
    defer { Task { await s.close() } }
    let outcomes = try await s.store.ingest([
      R.record("a", "x@example.com", minute: 1, age: 30, interests: ["Tech"]),
      R.record("b", "x@example.com", minute: 2, age: 31),
      R.record("c", "y@example.com", minute: 3),
      R.record("c", "x@example.com", minute: 4, interests: ["Gaming", "tech"]),
    ])
    #expect(outcomes == [.created(0), .updated(0), .created(1), .merged(0, absorbed: [1])])
    let user = try #require(try await s.store.user(cookie: "c"))
    #expect(user.data.cookie == "c")
    #expect(user.summary.cookies == ["a", "b", "c"])
    #expect(Set(user.summary.emails) == ["x@example.com", "y@example.com"])
    #expect(user.summary.repeatedEmails == ["x@example.com"])
    #expect(user.data.demographics.age == 31)
    #expect(user.data.email == "x@example.com")
    #expect(user.data.interests == ["Tech", "Gaming"])
    #expect(try await s.store.user(cookie: "nobody") == nil)
    #expect(try await s.store.stats() == StoreStats(profiles: 1, records: 4, repeatedEmails: 1))
  }

  @Test(arguments: StoreKind.allCases)
  func reingestingChangesNothing(_ kind: StoreKind) async throws {
    let s = try StoreUnderTest.open(kind)
    defer { Task { await s.close() } }
    var dateless = R.record("d", nil, age: 44)
    dateless.createdAt = nil
    let records = [R.record("a", "x@example.com", age: 30), R.record("b", "x@example.com"), dateless, dateless]
    let first = try await s.store.ingest(records)
    #expect(first == [.created(0), .updated(0), .created(1), .duplicate(1)])
    let again = try await s.store.ingest(records)
    #expect(again == [.duplicate(0), .duplicate(0), .duplicate(1), .duplicate(1)])
    #expect(try await s.store.stats() == StoreStats(profiles: 2, records: 3, repeatedEmails: 1))
    let d = try #require(try await s.store.user(cookie: "d"))
    #expect(d.data.createdAt == StoreUnderTest.fixedClock())
  }

  @Test(arguments: StoreKind.allCases)
  func emailCohortOfACookie(_ kind: StoreKind) async throws {
    let s = try StoreUnderTest.open(kind)
    defer { Task { await s.close() } }
    _ = try await s.store.ingest([
      R.record("a", "x@example.com", minute: 1, age: 25, interests: ["Gaming"]),
      R.record("b", "x@example.com", minute: 2, age: 35, interests: ["Gaming"]),
      R.record("c", "x@example.com", minute: 3, age: 28),
      R.record("z", "other@example.com", minute: 4, age: 22, interests: ["Gaming"]),
    ])
    let all = try await s.store.queryCohort(CohortQuery(cookie: "b"), categories: .standard)
    #expect(all.total == 3)
    #expect(all.users.map(\.cookie) == ["a", "b", "c"])
    let gamers = try await s.store.queryCohort(
      CohortQuery(filter: .all([.age(min: 20, max: 30), .interests(any: ["gaming"])]), cookie: "b"), categories: .standard)
    #expect(gamers.users.map(\.cookie) == ["a"])
    let report = try await s.store.analyze(AnalyzeQuery(cookie: "a"), categories: .standard)
    #expect(report.total == 3)
  }

  @Test(arguments: StoreKind.allCases)
  func identifierCapRefusesLinks(_ kind: StoreKind) async throws {
    var limits = RecordLimits.default
    limits.maxIdentifiersPerProfile = 3
    let s = try StoreUnderTest.open(kind, limits: limits)
    defer { Task { await s.close() } }
    let outcomes = try await s.store.ingest([
      R.record("a", "x@example.com", minute: 1), R.record("b", "x@example.com", minute: 2),
      R.record("c", "x@example.com", minute: 3), R.record("d", "y@example.com", minute: 4),
      R.record("d", "x@example.com", minute: 5),
    ])
    #expect(outcomes[0...1] == [.created(0), .updated(0)])
    #expect(outcomes[3] == .created(2))
    // c's link to x would make 4 identifiers: c becomes a person of its own.
    guard case .capped(1, let cookieReason) = outcomes[2], case .capped(2, let mergeReason) = outcomes[4] else {
      Issue.record("expected refused links, got \(outcomes)")
      return
    }
    #expect(cookieReason.contains("cap 3"))
    #expect(mergeReason.contains("cap of 3"))
    #expect(try await s.store.user(cookie: "a")?.summary.cookies == ["a", "b"])
    #expect(try await s.store.user(cookie: "c")?.summary.emails == [])
    #expect(try await s.store.user(cookie: "d")?.summary.emails == ["y@example.com"])
  }

  @Test(arguments: StoreKind.allCases)
  func forgetErasesThePerson(_ kind: StoreKind) async throws {
    let s = try StoreUnderTest.open(kind)
    defer { Task { await s.close() } }
    _ = try await s.store.ingest([
      R.record("a", "x@example.com", minute: 1, age: 30), R.record("b", "x@example.com", minute: 2),
      R.record("k", "keep@example.com", minute: 3, age: 50),
    ])
    let export = try #require(try await s.store.export(.cookie("b")))
    #expect(export.records.map(\.cookie) == ["a", "b"])
    #expect(export.summary.id == 0)
    let history = try #require(try await s.store.history(.email("X@example.com")))
    #expect(history.entries.map(\.change) == ["new profile: cookie a, email x@example.com", "added cookie b"])
    let erased = try #require(try await s.store.forget(.email("x@example.com")))
    #expect(erased.cookies == ["a", "b"])
    #expect(try await s.store.user(cookie: "a") == nil)
    #expect(try await s.store.export(.cookie("b")) == nil)
    #expect(try await s.store.forget(.cookie("a")) == nil)
    #expect(try await s.store.stats() == StoreStats(profiles: 1, records: 1, repeatedEmails: 0))
    #expect(try await s.store.queryCohort(CohortQuery(), categories: .standard).users.map(\.cookie) == ["k"])
    // The same person again starts from nothing.
    #expect(try await s.store.ingest([R.record("a", nil, minute: 9)]) == [.created(2)])
  }

  @Test(arguments: StoreKind.allCases)
  func splitDetachesACookie(_ kind: StoreKind) async throws {
    let s = try StoreUnderTest.open(kind)
    defer { Task { await s.close() } }
    _ = try await s.store.ingest([
      R.record("c1", "a@x.com", day: 1, age: 25), R.record("kiosk", "a@x.com", day: 2),
      R.record("kiosk", "b@x.com", day: 3), R.record("c2", "b@x.com", day: 4, age: 40),
    ])
    #expect(try await s.store.user(cookie: "c2")?.summary.cookies.count == 3)
    let parts = try #require(try await s.store.split(cookie: "kiosk"))
    #expect(parts.map(\.cookies) == [["kiosk"], ["c1"], ["c2"]])
    #expect(parts[0].emails == [])
    #expect(try await s.store.user(cookie: "c1")?.summary.emails == ["a@x.com"])
    #expect(try await s.store.user(cookie: "c2")?.data.demographics.age == 40)
    #expect(try await s.store.stats() == StoreStats(profiles: 3, records: 4, repeatedEmails: 0))
    // It stays apart, and splitting it again changes nothing.
    let later = try await s.store.ingest([R.record("kiosk", "a@x.com", day: 5)])
    guard case .capped(_, let reason) = later[0] else {
      Issue.record("expected a refused link, got \(later)")
      return
    }
    #expect(reason.contains("split off"))
    #expect(try await s.store.user(cookie: "c1")?.summary.cookies == ["c1"])
    #expect(try await s.store.split(cookie: "kiosk")?.map(\.cookies) == [["kiosk"]])
    #expect(try await s.store.split(cookie: "nobody") == nil)
    let history = try #require(try await s.store.history(.cookie("kiosk")))
    #expect(history.entries.count == 3)
    #expect(history.entries.allSatisfy { $0.change.contains("split off") }, "\(history.entries.map(\.change))")
    #expect(try await s.store.queryCohort(CohortQuery(filter: .age(min: 20, max: 30)), categories: .standard).users.map(\.cookie) == ["c1"])
  }

  /// Splitting a profile of one cookie takes its emails off it (its records no longer link them):
  /// a later record with that email is a person of its own, seen by queries. The MongoDB store
  /// kept the email on the document, merged the later record into it and hid it from queries.
  /// A split of a cookie nobody has is NOT_FOUND and leaves no mark (the MongoDB store marked it
  /// for good, and its later records never linked their emails).
  @Test(arguments: StoreKind.allCases)
  func aSplitOfOneCookieFreesItsEmailAndAnUnknownOneLeavesNoMark(_ kind: StoreKind) async throws {
    let s = try StoreUnderTest.open(kind)
    defer { Task { await s.close() } }
    _ = try await s.store.ingest([R.record("s1", "s@x.com", day: 1, country: "USA")])
    #expect(try await s.store.split(cookie: "s1") != nil)
    #expect(try await s.store.user(cookie: "s1")?.summary.emails == [])
    _ = try await s.store.ingest([R.record("s2", "s@x.com", day: 2, country: "Canada")])
    #expect(try await s.store.user(cookie: "s2")?.summary.cookies == ["s2"])
    let canada = try await s.store.queryCohort(CohortQuery(filter: .strings(.country, ["canada"])), categories: .standard)
    #expect(canada.users.map(\.cookie) == ["s2"], "\(kind)")

    #expect(try await s.store.split(cookie: "ghost") == nil)
    _ = try await s.store.ingest([R.record("k1", "g@x.com", day: 3), R.record("ghost", "g@x.com", day: 4)])
    #expect(try await s.store.user(cookie: "ghost")?.summary.cookies.sorted() == ["ghost", "k1"], "\(kind)")
  }

  /// An email that only a split-off cookie's records carry names no person: forget, export and
  /// history by it are FAILED_PRECONDITION naming that cookie, in both stores (the MongoDB store
  /// answered NOT_FOUND, "nobody", while the records were stored). An email on no record stays
  /// NOT_FOUND (nil).
  @Test(arguments: StoreKind.allCases)
  func anEmailOnlyASplitCookieCarriesIsRefusedByName(_ kind: StoreKind) async throws {
    let s = try StoreUnderTest.open(kind)
    defer { Task { await s.close() } }
    _ = try await s.store.ingest([
      R.record("phone", "alice@zz.com", minute: 1), R.record("kiosk", "alice@zz.com", minute: 2),
      R.record("kiosk", "carol@zz.com", minute: 3),
    ])
    #expect(try await s.store.split(cookie: "kiosk") != nil)
    let calls: [(String, () async throws -> Any?)] = [
      ("export", { try await s.store.export(.email("Carol@zz.com")) }),
      ("history", { try await s.store.history(.email("carol@zz.com")) }),
      ("forget", { try await s.store.forget(.email("carol@zz.com")) }),
    ]
    for (command, call) in calls {
      do {
        _ = try await call()
        Issue.record("\(kind) \(command): answered")
      } catch let error as AudienceError {
        #expect(error.code == .failedPrecondition, "\(kind) \(command)")
        #expect(error.message.hasPrefix("carol@zz.com is linked to no person, but records of cookie kiosk carry it"), "\(kind): \(error.message)")
        #expect(error.message.contains("`audience \(command) --cookie kiosk`"), "\(kind): \(error.message)")
      }
    }
    #expect(try await s.store.forget(.email("nobody@zz.com")) == nil)
    #expect(try await s.store.user(cookie: "kiosk")?.summary.records == 2, "\(kind): nothing erased")
  }

  /// A link the identifier cap refused is shown refused in `history`, in both stores (replayed
  /// alone, the person's records had room for it, and the embedded store showed it made), and
  /// the record keeps its email in `history` and `export` (the MongoDB store dropped it).
  @Test(arguments: StoreKind.allCases)
  func historyShowsACapRefusalAsRefused(_ kind: StoreKind) async throws {
    var limits = RecordLimits()
    limits.maxIdentifiersPerProfile = 3
    let s = try StoreUnderTest.open(kind, limits: limits)
    defer { Task { await s.close() } }
    _ = try await s.store.ingest([R.record("a", "x@zz.com", minute: 1), R.record("b", "x@zz.com", minute: 2), R.record("c", "x@zz.com", minute: 3)])
    #expect(try await s.store.user(cookie: "c")?.summary.emails == [], "\(kind)")
    let history = try #require(try await s.store.history(.cookie("c")))
    #expect(history.entries.map(\.change) == [IdentityGraph.frozenCapRefusal], "\(kind)")
    // The record keeps its email, as stored (the MongoDB store's replay dropped it: export,
    // history and the cookie's cohort showed none).
    #expect(history.entries.map(\.record.email) == ["x@zz.com"], "\(kind)")
    #expect(try await s.store.export(.cookie("c"))?.records.map(\.email) == ["x@zz.com"], "\(kind)")
  }

  /// A MongoDB writer that dies part way through a batch, between storing a record and linking
  /// it, loses no link: sent again, the batch links every email, also when another record of
  /// the cookie came meanwhile. (The batch's records were all stored before any was linked, and
  /// a person's document recomputed from its cookie's records counted the unlinked one, which
  /// then looked like a duplicate: z2 was never linked. Stored one at a time, a record written
  /// in between still made it look so; the record is now marked pending until linked.)
  @Test func aMongoWriterThatDiesPartWayLosesNoLink() async throws {
    let s = try StoreUnderTest.open(.mongodb)
    defer { Task { await s.close() } }
    let mongo = try #require(s.store as? MongoStore)
    let batch = [R.record("Z", "z1@x.com", minute: 1), R.record("Y", nil, minute: 2), R.record("Z", "z2@x.com", minute: 3)]
    mongo.stopAfterStoring.store(2, ordering: .relaxed)  // z2 stored, not linked
    mongo.pendingLeaseMilliseconds.store(200, ordering: .relaxed)  // how long z2's mark is waited for
    await #expect(throws: AudienceError.self) { _ = try await s.store.ingest(batch) }
    mongo.stopAfterStoring.store(-1, ordering: .relaxed)
    // Another record of Z: Z's document is recomputed from all of Z's records, z2's included.
    _ = try await s.store.ingest([R.record("Z", nil, minute: 4, country: "France")])
    let outcomes = try await s.store.ingest(batch)
    #expect(outcomes[0] == .duplicate(0) && outcomes[1] == .duplicate(1), "\(outcomes)")
    let z = try #require(try await s.store.user(cookie: "Z"))
    #expect(Set(z.summary.emails) == ["z1@x.com", "z2@x.com"])
    #expect(z.data.email == "z2@x.com" && z.summary.records == 3)
    // Sent once more, all duplicates.
    #expect(try await s.store.ingest(batch).allSatisfy { if case .duplicate = $0 { true } else { false } })
  }

  /// A cookie-scoped cohort's cursor holds while records join or leave the person between pages:
  /// each cookie that stays in the cohort is shown once. (The MongoDB store's cursor was a
  /// position among the person's replayed records: after a merge the next page repeated pa1,
  /// after a split it skipped pa1.) A cursor that is not one is refused by both.
  @Test(arguments: StoreKind.allCases)
  func cookieCohortPagesHoldThroughAMergeAndASplit(_ kind: StoreKind) async throws {
    let s = try StoreUnderTest.open(kind)
    defer { Task { await s.close() } }
    func page(_ limit: Int, _ cursor: String?) async throws -> CohortPage {
      try await s.store.queryCohort(CohortQuery(cookie: "pa1", limit: limit, cursor: cursor), categories: .standard)
    }
    _ = try await s.store.ingest([R.record("pb1", "pby@x.com", minute: 1)])
    _ = try await s.store.ingest([R.record("pa1", "pax@x.com", minute: 2)])
    _ = try await s.store.ingest([R.record("pa2", "pax@x.com", minute: 3)])
    let first = try await page(1, nil)
    #expect(first.users.map(\.cookie) == ["pa1"], "\(kind)")
    _ = try await s.store.ingest([R.record("pb1", "pax@x.com", minute: 4)])  // pb1 joins: a merge
    #expect(try await page(5, first.nextCursor).users.map(\.cookie) == ["pa2"], "\(kind): after a merge")
    let merged = try await page(1, nil)
    #expect(merged.users.map(\.cookie) == ["pb1"], "\(kind)")
    _ = try await s.store.split(cookie: "pb1")
    #expect(try await page(5, merged.nextCursor).users.map(\.cookie) == ["pa1", "pa2"], "\(kind): after a split")
    for bad in ["c-1", "cx", "p1"] {
      await #expect(throws: AudienceError.self, "\(kind): \(bad)") { _ = try await page(1, bad) }
    }
    await #expect(throws: AudienceError.self, "\(kind)") {
      _ = try await s.store.queryCohort(CohortQuery(limit: 1, cursor: "p-5"), categories: .standard)
    }
  }

  /// Health's "degraded" on the MongoDB store: a write MongoDB refuses (a full disk, a user without
  /// write rights) is noted until a write succeeds; a batch of duplicates writes nothing and
  /// leaves it. (The MongoDB store said "serving" while every write failed.)
  @Test func aMongoWriteRefusalShowsInHealthUntilAWriteSucceeds() async throws {
    let s = try StoreUnderTest.open(.mongodb)
    defer { Task { await s.close() } }
    let mongo = try #require(s.store as? MongoStore)
    _ = try await s.store.ingest([R.record("a", "a@x.com", minute: 1)])
    #expect(mongo.writeFailure == nil)
    mongo.refuseWrites.withLock { $0 = MongoFailure(server: 14031, "OutOfDiskSpace: the disk is full") }
    await #expect(throws: AudienceError.self) { _ = try await s.store.ingest([R.record("b", nil, minute: 2)]) }
    await #expect(throws: AudienceError.self) { _ = try await s.store.forget(.cookie("a")) }
    #expect(mongo.writeFailure?.contains("the disk is full") == true, "\(String(describing: mongo.writeFailure))")
    mongo.refuseWrites.withLock { $0 = nil }
    _ = try await s.store.ingest([R.record("a", "a@x.com", minute: 1)])
    #expect(mongo.writeFailure != nil, "a duplicate wrote nothing")
    #expect(try await s.store.stats().records == 1, "reads go on")
    _ = try await s.store.ingest([R.record("b", nil, minute: 2)])
    #expect(mongo.writeFailure == nil)
  }

  /// Two MongoDB writers sending the same records at once: each record is new for one of them and
  /// a duplicate for the other, and no profile id is spent twice. (A record the other writer had
  /// stored and not yet linked was taken for a dead writer's: both linked it, both reported it
  /// created or updated, and the loser's creations spent ids.)
  @Test func twoMongoWritersSendingTheSameRecordsReportEachNewOnce() async throws {
    let s = try StoreUnderTest.open(.mongodb)
    defer { Task { await s.close() } }
    let records = (0..<60).map { i in R.record("p\(i)", "p\(i)@x.com", minute: i) }
    async let a = s.store.ingest(records)
    async let b = s.store.ingest(records)
    let (first, second) = try await (a, b)
    func isDuplicate(_ o: IngestOutcome) -> Bool { if case .duplicate = o { true } else { false } }
    for i in records.indices {
      #expect(isDuplicate(first[i]) != isDuplicate(second[i]), "record \(i): \(first[i]) and \(second[i])")
    }
    #expect(try await s.store.stats().profiles == 60)
    var ids: [ProfileID] = []
    for r in records { ids.append(try #require(try await s.store.user(cookie: r.cookie)).summary.id) }
    #expect(ids.sorted() == Array(0..<60), "profile ids spent: \(ids.sorted().last ?? 0)")
  }

  /// An income with a fraction is compared as the number it is (100.9 is within 100..101, not
  /// 100..100), in both stores.
  @Test(arguments: StoreKind.allCases)
  func incomesWithAFractionAreComparedExactly(_ kind: StoreKind) async throws {
    let s = try StoreUnderTest.open(kind)
    defer { Task { await s.close() } }
    _ = try await s.store.ingest([
      R.record("f1", nil, income: "100.9"), R.record("f2", nil, income: "100"), R.record("f3", nil, income: "101"),
    ])
    for (lo, hi, expected) in [(100, 100, ["f2"]), (100, 101, ["f1", "f2", "f3"]), (101, nil, ["f3"])] as [(Int64, Int64?, [String])] {
      let page = try await s.store.queryCohort(CohortQuery(filter: .income(min: lo, max: hi)), categories: .standard)
      #expect(page.users.map(\.cookie).sorted() == expected, "\(kind) \(lo)..\(hi.map(String.init) ?? "")")
    }
  }

  /// Random records into both stores in the same batches: the same outcomes, people, pages,
  /// counts and reports, for filters over every predicate.
  @Test func mongoAgreesWithEmbeddedOnRandomData() async throws {
    let embedded = try StoreUnderTest.open(.embedded)
    let mongo = try StoreUnderTest.open(.mongodb)
    defer { Task { await embedded.close(); await mongo.close() } }
    let records = Records.random(400, seed: 7)
    for start in stride(from: 0, to: records.count, by: 50) {
      let batch = Array(records[start..<start + 50])
      let a = try await embedded.store.ingest(batch)
      let b = try await mongo.store.ingest(batch)
      #expect(a == b, "batch at \(start)")
    }
    #expect(try await embedded.store.stats() == (try await mongo.store.stats()))
    for cookie in Set(records.map(\.cookie)) {
      #expect(try await embedded.store.user(cookie: cookie) == (try await mongo.store.user(cookie: cookie)), "\(cookie)")
    }
    var filters: [Filter?] = [
      nil, .age(min: 20, max: 30), .not(.age(min: 20, max: 30)), .strings(.country, ["usa", "Canada"]),
      .all([.strings(.gender, ["female"]), .income(min: 50_000, max: 100_000)]), .interests(any: ["AI", "crypto"]),
      .interests(all: ["Gaming", "AI"]), .interests(none: ["Gaming"]), .categories(["Tech", "Other"]),
      .incomeLabels(["high"]), .cohort(true), .cohort(false), .created(min: Timestamp(year: 2025, month: 3, day: 10)!.seconds, max: nil),
      .seen(min: nil, max: Timestamp(year: 2025, month: 3, day: 20)!.seconds), .any([]), .all([]),
      .any([.strings(.country, ["india"]), .not(.interests(any: ["movies"]))]),
    ]
    var rng = SplitMix64(seed: 99)
    for _ in 0..<20 { filters.append(randomFilter(depth: 3, &rng)) }
    for filter in filters {
      var cursor: String?
      var pages = 0
      repeat {
        let q = CohortQuery(filter: filter, limit: 7, cursor: cursor)
        let a = try await embedded.store.queryCohort(q, categories: .standard)
        let b = try await mongo.store.queryCohort(q, categories: .standard)
        #expect(a == b, "\(String(describing: filter)) page \(pages)")
        cursor = a.nextCursor
        pages += 1
      } while cursor != nil && pages < 100
      let qa = AnalyzeQuery(filter: filter)
      let ra = try await embedded.store.analyze(qa, categories: .standard)
      let rb = try await mongo.store.analyze(qa, categories: .standard)
      #expect(ra == rb, "\(String(describing: filter)) analyze")
    }
    // K-means over age and income, and other report parameters.
    for filter in [nil, Filter.age(min: 20, max: 50)] {
      let q = AnalyzeQuery(filter: filter, topN: 3, ageBins: 7, k: 2, features: [.age, .income])
      #expect(try await embedded.store.analyze(q, categories: .standard) == (try await mongo.store.analyze(q, categories: .standard)))
    }
    for cookie in ["c1", "c7", "c42"] {
      let a = try await embedded.store.export(.cookie(cookie))
      let b = try await mongo.store.export(.cookie(cookie))
      #expect(a?.summary == b?.summary)
      #expect(a.map { Set($0.records) } == b.map { Set($0.records) })
    }
  }

  private func randomFilter(depth: Int, _ rng: inout SplitMix64) -> Filter {
    let leaf = depth == 0 || Int.random(in: 0..<3, using: &rng) == 0
    if !leaf {
      let children = (0..<Int.random(in: 1...3, using: &rng)).map { _ in randomFilter(depth: depth - 1, &rng) }
      switch Int.random(in: 0..<3, using: &rng) {
      case 0: return .all(children)
      case 1: return .any(children)
      default: return .not(children[0])
      }
    }
    let interests = ["gaming", "ai", "crypto", "tech", "movies", "travel"]
    switch Int.random(in: 0..<7, using: &rng) {
    case 0:
      let lo = Int64.random(in: 10...60, using: &rng)
      return .age(min: lo, max: lo + Int64.random(in: 0...20, using: &rng))
    case 1: return .strings(.country, [["usa", "canada", "india", "germany"].randomElement(using: &rng)!])
    case 2: return .interests(any: [interests.randomElement(using: &rng)!, interests.randomElement(using: &rng)!])
    case 3: return .interests(all: [interests.randomElement(using: &rng)!])
    case 4: return .income(min: Int64.random(in: 0...80_000, using: &rng), max: nil)
    case 5: return .cohort(Bool.random(using: &rng))
    default: return .categories([["tech", "movies", "other", "sports", "finance"].randomElement(using: &rng)!])
    }
  }
}
