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

  /// Opens a copy of the live files as a kill leaves them (a replay), and expects the same
  /// people for these cookies, then the same outcome for `later` in both.
  /// - Parameters:
  ///   - newIDsMayDiffer: a profile the later record creates may be numbered higher after the
  ///     replay (docs/IDENTITY.md): compare the outcomes' kinds and reasons only.
  func expectTheSameAfterAKill(
    _ live: EmbeddedStore, _ dir: TemporaryDirectory, cap: Int, _ cookies: [String], later: [Record],
    newIDsMayDiffer: Bool = false, sourceLocation: SourceLocation = #_sourceLocation
  ) async throws {
    let crashed = try ProfileIDStabilityTests.crashCopy(dir)
    defer { crashed.remove() }
    let replayed = try EmbeddedStore(directory: crashed.path, limits: Self.limits(cap: cap), logger: logger)
    #expect(!replayed.restoredFromSnapshot, sourceLocation: sourceLocation)
    let before = try await Self.people(live, cookies)
    #expect(try await Self.people(replayed, cookies) == before, sourceLocation: sourceLocation)
    let outcome = try await live.ingest(later)
    let again = try await replayed.ingest(later)
    func kind(_ o: IngestOutcome) -> String {
      switch o {
      case .capped(_, let reason): "capped: \(reason)"
      default: "\(o)".prefix { $0 != "(" }.description
      }
    }
    if newIDsMayDiffer {
      #expect(again.map(kind) == outcome.map(kind), sourceLocation: sourceLocation)
    } else {
      #expect(again == outcome, sourceLocation: sourceLocation)
    }
    await replayed.close()
  }

  /// p1, p2 and e@x fill a profile; q1's record carrying e@x is refused; then p1's person is
  /// forgotten. The replay, without their records, would link e@x to q1 and a later record
  /// carrying it would join q1 (instead of starting a profile).
  @Test func aRefusalOnAccountOfTheForgottenProfile() async throws {
    let dir = TemporaryDirectory()
    defer { dir.remove() }
    let live = try EmbeddedStore(directory: dir.path, limits: Self.limits(cap: 3), logger: logger)
    _ = try await live.ingest([
      Self.record(1, "p1", "e@x"), Self.record(2, "p2", "e@x"), Self.record(3, "q1", "e@x"), Self.record(4, "q1", "f@x"),
    ])
    _ = try await live.ingest([Self.record(4, "o", nil)])  // the next commit logs the refusal
    #expect(try await live.forget(.cookie("p1")) != nil)
    #expect(try await live.user(cookie: "q1")?.summary.emails == ["f@x"])
    try await expectTheSameAfterAKill(live, dir, cap: 3, ["q1"], later: [Self.record(5, "z", "e@x")])
    await live.close()
  }

  /// A split cookie's record the cap refused before the split (a helper's review): the replay
  /// refuses it before the split too, so the profile the split takes apart is the same.
  @Test func aSplitCookiesRecordRefusedBeforeItsSplit() async throws {
    let dir = TemporaryDirectory()
    defer { dir.remove() }
    let live = try EmbeddedStore(directory: dir.path, limits: Self.limits(cap: 3), logger: logger)
    _ = try await live.ingest([
      Self.record(1, "p1", "e@x"), Self.record(2, "p1", "f@x"), Self.record(3, "s", "e@x"), Self.record(4, "s", "g@x"),
      Self.record(5, "w", "g@x"),
    ])
    #expect(try await live.split(cookie: "s") != nil)
    #expect(try await live.forget(.cookie("p1")) != nil)
    try await expectTheSameAfterAKill(live, dir, cap: 3, ["s", "w"], later: [Self.record(6, "z", "g@x")])
    await live.close()
  }

  /// A record linked when stored and refused when a split applied it again (a helper's review):
  /// the replay refuses it in that split only, so the profiles and their ids are the same.
  @Test func aRecordRefusedOnlyInASplitsRebuild() async throws {
    let dir = TemporaryDirectory()
    defer { dir.remove() }
    let live = try EmbeddedStore(directory: dir.path, limits: Self.limits(cap: 4), logger: logger)
    _ = try await live.ingest([
      Self.record(1, "p", "z@x"), Self.record(2, "b", "h@x"), Self.record(3, "b", "i@x"), Self.record(4, "b", "j@x"),
      Self.record(5, "a", "h@x"), Self.record(6, "a", "i@x"), Self.record(7, "a", "x@x"), Self.record(8, "s", "x@x"),
      Self.record(9, "k", "x@x"),
    ])
    #expect(try await live.split(cookie: "b") != nil)
    #expect(try await live.split(cookie: "s") != nil)
    #expect(try await live.forget(.cookie("p")) != nil)
    try await expectTheSameAfterAKill(live, dir, cap: 4, ["a", "b", "s", "k"], later: [Self.record(10, "y", "x@x")])
    await live.close()
  }

  /// Forgetting the split cookie drops its split, so a replay does not rebuild what it rebuilt
  /// (a third review's case): a record the cap refused when stored but the split's rebuild
  /// linked loses its logged refusal and is decided afresh in the replay, as the split left it.
  @Test func forgettingASplitCookieKeepsItsRebuildsDecisions() async throws {
    let dir = TemporaryDirectory()
    defer { dir.remove() }
    let live = try EmbeddedStore(directory: dir.path, limits: Self.limits(cap: 3), logger: logger)
    _ = try await live.ingest([Self.record(1, "x", "e@x"), Self.record(2, "y", "e@x"), Self.record(3, "y", "f@x")])
    #expect(try await live.split(cookie: "x") != nil)
    #expect(try await live.user(cookie: "y")?.summary.emails == ["e@x", "f@x"])
    #expect(try await live.forget(.cookie("x")) != nil)
    try await expectTheSameAfterAKill(live, dir, cap: 3, ["y"], later: [Self.record(4, "z", "f@x")])
    await live.close()
  }

  /// Refusals made before a clean restart (the commits logged them) hold in a replay after a
  /// forget made after the restart.
  @Test func refusalsMadeBeforeARestart() async throws {
    let dir = TemporaryDirectory()
    defer { dir.remove() }
    let first = try EmbeddedStore(directory: dir.path, limits: Self.limits(cap: 3), logger: logger)
    _ = try await first.ingest([
      Self.record(1, "p1", "e@x"), Self.record(2, "p2", "e@x"), Self.record(3, "q1", "e@x"), Self.record(4, "q1", "f@x"),
    ])
    await first.close()
    let live = try EmbeddedStore(directory: dir.path, limits: Self.limits(cap: 3), logger: logger)
    #expect(live.restoredFromSnapshot)
    #expect(try await live.forget(.cookie("p1")) != nil)
    try await expectTheSameAfterAKill(live, dir, cap: 3, ["q1"], later: [Self.record(5, "z", "e@x")])
    await live.close()
  }

  /// Two splits re-decided the same record and the later one's cookie is forgotten (a fourth
  /// review's case): the record is decided afresh in the replay, in both applications, as the
  /// live graph decided it last.
  @Test func aRecordTwoSplitsRedecided() async throws {
    let dir = TemporaryDirectory()
    defer { dir.remove() }
    let live = try EmbeddedStore(directory: dir.path, limits: Self.limits(cap: 4), logger: logger)
    _ = try await live.ingest([
      Self.record(1, "c1", "m@x"), Self.record(2, "c0", "m@x"), Self.record(3, "cx", "m@x"), Self.record(4, "b", "ex@x"),
      Self.record(5, "cx", "ex@x"),
    ])
    #expect(try await live.split(cookie: "c0") != nil)
    #expect(try await live.split(cookie: "c1") != nil)
    #expect(try await live.forget(.cookie("c1")) != nil)
    try await expectTheSameAfterAKill(
      live, dir, cap: 4, ["cx", "b", "c0"], later: [Self.record(6, "z", "ex@x")], newIDsMayDiffer: true)
    await live.close()
  }

  /// A forget deletes the refusals of its records; forgetting a split cookie deletes the
  /// refusals of every record its split applied again, and the split's record list.
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
    #expect(try await store.forget(.cookie("q2")) != nil)  // the split goes: so do its records' refusals
    #expect(try rows().refusals == [])
    #expect(try rows().splitRecords == 0)
    await store.close()
  }
}
