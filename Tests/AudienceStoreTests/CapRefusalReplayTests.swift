import AudienceCore
import Foundation
import Logging
import Testing

@testable import AudienceStore

/// After a forget, a replay of the stored records (after a kill) rebuilds the graph the live
/// store holds, even where the identifier cap refused links: the store logs each refusal
/// (`cap_refusals`) and the replay refuses them again (IdentityGraph+CapRefusals.swift).
@Suite("Cap refusals across a forget and a kill")
struct CapRefusalReplayTests {
  let logger = Logger(label: "test")

  static func limits(cap: Int) -> RecordLimits {
    var l = RecordLimits.default
    l.maxIdentifiersPerProfile = cap
    return l
  }

  static func record(_ day: Int, _ cookie: String, _ email: String?) -> Record {
    Record(cookie: cookie, email: email, createdAt: Timestamp(seconds: 1_740_000_000 + Int64(day) * 86_400))
  }

  /// Every cookie's profile id, cookies and emails.
  static func people(_ store: EmbeddedStore, _ cookies: [String]) async throws -> [String: ProfileSummary] {
    var out: [String: ProfileSummary] = [:]
    for c in cookies { if let u = try await store.user(cookie: c) { out[c] = u.summary } }
    return out
  }

  /// One history run on a live store, then checked against a replay of its files as a kill
  /// leaves them.
  struct Scenario: Sendable, CustomTestStringConvertible {
    enum Step: Sendable {
      /// Records (day, cookie, email), in one commit.
      case ingest([(Int, String, String?)])
      case split(String)
      case forget(String)
      /// A clean shutdown and a start from its snapshot.
      case restart
      /// What the live store holds at this point: the cookie's profile's emails.
      case emails(String, [String])
    }

    var testDescription: String
    var cap: Int
    var steps: [Step]
    /// The cookies whose people (id, cookies, emails) must be the same after the kill.
    var compared: [String]
    /// A record ingested into both afterwards, with the same outcome.
    var later: (Int, String, String?)
    /// A profile the later record creates may be numbered higher after the replay
    /// (docs/IDENTITY.md): compare the outcomes' kinds and reasons only.
    var newIDsMayDiffer = false
    /// Only the compared people's cookies and emails must be the same after the kill: under the
    /// cap a replay may number a profile differently (docs/IDENTITY.md).
    var onlyLinks = false
  }

  static let scenarios: [Scenario] = [
    // p1, p2 and e@x fill a profile; q1's record carrying e@x is refused; the next commit logs the
    // refusal; p1's person is forgotten. Without the log, the replay links e@x to q1, and a later
    // record carrying it joins q1.
    Scenario(
      testDescription: "a refusal on account of the forgotten profile", cap: 3,
      steps: [
        .ingest([(1, "p1", "e@x"), (2, "p2", "e@x"), (3, "q1", "e@x"), (4, "q1", "f@x")]), .ingest([(4, "o", nil)]),
        .forget("p1"), .emails("q1", ["f@x"]),
      ],
      compared: ["q1"], later: (5, "z", "e@x")),
    // The same, the refusal made before a clean restart (the shutdown logged it).
    Scenario(
      testDescription: "a refusal made before a restart", cap: 3,
      steps: [
        .ingest([(1, "p1", "e@x"), (2, "p2", "e@x"), (3, "q1", "e@x"), (4, "q1", "f@x")]), .restart, .forget("p1"),
      ],
      compared: ["q1"], later: (5, "z", "e@x")),
    // A split cookie's record the cap refused before its split (a review's case): the replay
    // refuses it before the split too.
    Scenario(
      testDescription: "a split cookie's record refused before its split", cap: 3,
      steps: [
        .ingest([(1, "p1", "e@x"), (2, "p1", "f@x"), (3, "s", "e@x"), (4, "s", "g@x"), (5, "w", "g@x")]), .split("s"),
        .forget("p1"),
      ],
      compared: ["s", "w"], later: (6, "z", "g@x")),
    // A record linked when stored and refused when a split applied it again (a review's case):
    // the replay refuses it in that split only, so the profiles and their ids are the same.
    Scenario(
      testDescription: "a record refused only in a split's rebuild", cap: 4,
      steps: [
        .ingest([
          (1, "p", "z@x"), (2, "b", "h@x"), (3, "b", "i@x"), (4, "b", "j@x"), (5, "a", "h@x"), (6, "a", "i@x"),
          (7, "a", "x@x"), (8, "s", "x@x"), (9, "k", "x@x"),
        ]),
        .split("b"), .split("s"), .forget("p"),
      ],
      compared: ["a", "b", "s", "k"], later: (10, "y", "x@x")),
    // Forgetting the split cookie drops its split (a review's case): a record the cap refused
    // when stored but the split's rebuild linked loses its logged refusal and is decided afresh.
    Scenario(
      testDescription: "forgetting a split cookie", cap: 3,
      steps: [
        .ingest([(1, "x", "e@x"), (2, "y", "e@x"), (3, "y", "f@x")]), .split("x"), .emails("y", ["e@x", "f@x"]),
        .forget("x"),
      ],
      compared: ["y"], later: (4, "z", "f@x")),
    // Two splits re-decided the same record and the later one's cookie is forgotten (a review's
    // case): the record is decided afresh in both applications, as the live graph decided it last.
    Scenario(
      testDescription: "a record two splits re-decided", cap: 4,
      steps: [
        .ingest([(1, "c1", "m@x"), (2, "c0", "m@x"), (3, "cx", "m@x"), (4, "b", "ex@x"), (5, "cx", "ex@x")]),
        .split("c0"), .split("c1"), .forget("c1"),
      ],
      compared: ["cx", "b", "c0"], later: (6, "z", "ex@x"), newIDsMayDiffer: true),
    // A split's rebuild refused a record again after a forget had made room for it, and the
    // split cookie is forgotten: the record stays refused where it was stored, as it is live
    // (its refusal was dropped, and the replay linked e@x to q1).
    Scenario(
      testDescription: "forgetting a split cookie after a forget made room", cap: 3,
      steps: [
        .ingest([(1, "p1", "e@x"), (2, "p2", "e@x"), (3, "q1", "e@x"), (4, "q1", "f@x"), (5, "q2", "f@x"), (6, "r1", "e@x")]),
        .split("q2"), .forget("p2"), .forget("q2"), .emails("q1", ["f@x"]),
      ],
      compared: ["q1", "r1"], later: (7, "z", "e@x")),
    // Seed 115 of the random histories under a cap of 5: k8's record carrying m0, refused when
    // stored and in k3's split, came back linked after k3 was forgotten.
    Scenario(
      testDescription: "a record the erased split refused again", cap: 5,
      steps: [
        .ingest([(1, "k1", "m0")]), .ingest([(2, "k1", nil), (3, "k1", "m7"), (4, "k4", "m7")]),
        .ingest([(5, "k2", "m0"), (6, "k5", "m4")]), .ingest([(7, "k3", "m3"), (8, "k8", "m0")]),
        .ingest([(9, "k1", "m1"), (10, "k8", "m3"), (11, "k6", "m5")]), .split("k3"), .forget("k4"), .forget("k3"),
        .emails("k8", ["m3"]),
      ],
      compared: ["k1", "k2", "k5", "k6", "k8"], later: (12, "z", "m0")),
    // A CLI fuzzer's history (seed 1004, cut down): the erased split (k5's) linked k8's record
    // carrying m0, refused when stored; made there in the replay instead, it joins k8 to k3's
    // profile before k3's split, whose rebuild then applies k8's records again. Their decisions
    // are made in that split too: without that, it decided the other afresh and linked m7,
    // which the erased split had refused.
    Scenario(
      testDescription: "a link made where it was refused joins a split that stays", cap: 3,
      steps: [
        .ingest([(1, "k3", "m5")]), .ingest([(2, "k3", "m0")]), .ingest([(3, "k7", "m2")]), .ingest([(4, "k8", "m0")]),
        .ingest([(5, "k8", "m7"), (6, "k5", "m7")]), .split("k3"), .ingest([(7, "k1", "m0")]), .split("k5"), .forget("k5"),
        .emails("k8", ["m0"]),
      ],
      compared: ["k1", "k3", "k7", "k8"], later: (8, "z", "m7"), newIDsMayDiffer: true, onlyLinks: true),
  ]

  static func records(_ rows: [(Int, String, String?)]) -> [Record] { rows.map { record($0.0, $0.1, $0.2) } }

  @Test(arguments: scenarios)
  func aReplayAfterAKillHoldsWhatTheLiveStoreHolds(_ scenario: Scenario) async throws {
    let dir = TemporaryDirectory()
    defer { dir.remove() }
    let limits = Self.limits(cap: scenario.cap)
    var live = try EmbeddedStore(directory: dir.path, limits: limits, logger: logger)
    for step in scenario.steps {
      switch step {
      case .ingest(let rows): _ = try await live.ingest(Self.records(rows))
      case .split(let cookie): #expect(try await live.split(cookie: cookie) != nil)
      case .forget(let cookie): #expect(try await live.forget(.cookie(cookie)) != nil)
      case .restart:
        await live.close()
        live = try EmbeddedStore(directory: dir.path, limits: limits, logger: logger)
        #expect(live.restoredFromSnapshot)
      case .emails(let cookie, let emails): #expect(try await live.user(cookie: cookie)?.summary.emails == emails)
      }
    }
    let crashed = try ProfileIDStabilityTests.crashCopy(dir)
    defer { crashed.remove() }
    let replayed = try EmbeddedStore(directory: crashed.path, limits: limits, logger: logger)
    #expect(!replayed.restoredFromSnapshot)
    let (got, expected) = (try await Self.people(replayed, scenario.compared), try await Self.people(live, scenario.compared))
    if scenario.onlyLinks {
      func links(_ people: [String: ProfileSummary]) -> [String: [[String]]] {
        people.mapValues { [$0.cookies.sorted(), $0.emails.sorted()] }
      }
      #expect(links(got) == links(expected))
    } else {
      #expect(got == expected)
    }
    let later = Self.records([scenario.later])
    let (outcome, again) = (try await live.ingest(later), try await replayed.ingest(later))
    func kind(_ o: IngestOutcome) -> String {
      switch o {
      case .capped(_, let reason): "capped: \(reason)"
      default: "\(o)".prefix { $0 != "(" }.description
      }
    }
    if scenario.newIDsMayDiffer {
      #expect(again.map(kind) == outcome.map(kind))
    } else {
      #expect(again == outcome)
    }
    await replayed.close()
    await live.close()
  }

  /// A start under a lower cap decides links afresh, and so does a start back under the default:
  /// the lower cap's refusals are not kept (they used to be logged and refused again by every
  /// later start, keeping people apart for good after a one-off change of the flag).
  @Test func aStartUnderAnotherCapDecidesLinksAfresh() async throws {
    let dir = TemporaryDirectory()
    defer { dir.remove() }
    let cookies = ["c1", "c2", "c3"]
    var store = try EmbeddedStore(directory: dir.path, limits: .default, logger: logger)
    _ = try await store.ingest([Self.record(1, "c1", "e1@q.com"), Self.record(2, "c2", "e1@q.com"), Self.record(3, "c3", "e1@q.com")])
    #expect(Set(try await Self.people(store, cookies).values.map(\.id)).count == 1)
    await store.close()
    for (cap, profiles) in [(2, 3), (1000, 1), (2, 3), (1000, 1)] {
      store = try EmbeddedStore(directory: dir.path, limits: Self.limits(cap: cap), logger: logger)
      #expect(!store.restoredFromSnapshot)
      #expect(Set(try await Self.people(store, cookies).values.map(\.id)).count == profiles, "cap \(cap)")
      await store.close()
      // And after a kill (the replay, under the same cap, refuses what the start logged).
      let crashed = try ProfileIDStabilityTests.crashCopy(dir)
      defer { crashed.remove() }
      let replayed = try EmbeddedStore(directory: crashed.path, limits: Self.limits(cap: cap), logger: logger)
      #expect(Set(try await Self.people(replayed, cookies).values.map(\.id)).count == profiles, "cap \(cap), replayed")
      await replayed.close()
    }
  }

  /// A forget deletes the refusals of its records; forgetting a split cookie deletes its split's
  /// refusals and record list, and moves the last decision of each record its split applied
  /// again to where the record was stored.
  @Test func aForgetDeletesItsRefusals() async throws {
    let dir = TemporaryDirectory()
    defer { dir.remove() }
    let store = try EmbeddedStore(directory: dir.path, limits: Self.limits(cap: 3), logger: logger)
    _ = try await store.ingest([
      Self.record(1, "p1", "e@x"), Self.record(2, "p2", "e@x"), Self.record(3, "q1", "e@x"), Self.record(4, "q1", "f@x"),
      Self.record(5, "q2", "f@x"), Self.record(6, "r1", "e@x"),
    ])
    #expect(try await store.split(cookie: "q2") != nil)  // refuses q1's record again, in the split
    #expect(try await store.forget(.cookie("p2")) != nil)  // logs the refusals
    func rows() throws -> (refusals: [UInt64], splitRecords: Int) {
      let db = try SQLiteDatabase(path: dir.path + "/audience.db")
      defer { db.close() }
      let count = try db.prepare("SELECT count(*) FROM split_records")
      _ = try count.step()
      let n = Int(count.int64(0) ?? -1)
      count.reset()
      return (try CapRefusalLog.read(db).map(\.seq).sorted(), n)
    }
    // q1's record, when stored and in q2's split; r1's, when stored.
    #expect(try rows().refusals == [3, 3, 6])
    #expect(try rows().splitRecords == 3)
    #expect(try await store.forget(.cookie("r1")) != nil)  // the record goes
    #expect(try rows().refusals == [3, 3])
    // The split goes, and its rebuild's decisions move to where q1's records were stored: the
    // one carrying e@x stays refused there, the one carrying f@x is linked past the cap.
    #expect(try await store.forget(.cookie("q2")) != nil)
    #expect(try rows().refusals == [3])
    #expect(try rows().splitRecords == 0)
    let db = try SQLiteDatabase(path: dir.path + "/audience.db")
    #expect(try CapRefusalLog.read(db) == [.init(seq: 3, application: 0)])
    #expect(try CapRefusalLog.readLinks(db) == [.init(seq: 4, application: 0)])
    db.close()
    await store.close()
    // A start under another cap decides every link afresh: the logged links go too.
    try FileManager.default.removeItem(atPath: dir.path + "/audience.snapshot")
    let other = try EmbeddedStore(directory: dir.path, limits: Self.limits(cap: 4), logger: logger)
    await other.close()
    let after = try SQLiteDatabase(path: dir.path + "/audience.db")
    #expect(try CapRefusalLog.readLinks(after) == [])
    after.close()
  }
}
