import AudienceCore
import Foundation
import Logging
import Synchronization
import Testing

@testable import AudienceStore

/// Profile ids are creation order, and a replay of the stored records (after a crash, or with
/// no usable snapshot) gives every profile the id it had, even after a forget erased records
/// that had created profiles before it.
@Suite("Profile ids across erasures and replays")
struct ProfileIDStabilityTests {
  let logger = Logger(label: "test")

  static func record(_ i: Int, _ cookie: String, _ email: String?) -> Record {
    Record(
      cookie: cookie, email: email, createdAt: Timestamp(seconds: 1_740_000_000 + Int64(i) * 60),
      demographics: Demographics(age: 20 + i % 40), interests: i % 2 == 0 ? ["AI"] : ["Golf"])
  }

  /// Records over 40 cookies and 15 emails: profiles that merge, records that update them.
  static func batch(_ range: Range<Int>, prefix: String) -> [Record] {
    range.map { i in record(i, "\(prefix)c\(i % 40)", i % 3 == 0 ? "\(prefix)p\(i % 15)@example.com" : nil) }
  }

  /// The profile id of every cookie of `cookies` that has one.
  static func ids(_ store: EmbeddedStore, _ cookies: [String]) async throws -> [String: ProfileID] {
    var out: [String: ProfileID] = [:]
    for c in cookies { if let u = try await store.user(cookie: c) { out[c] = u.summary.id } }
    return out
  }

  static let cookies = (0..<40).flatMap { ["Ac\($0)", "Bc\($0)", "Cc\($0)"] }

  /// The same history twice: one store closes and replays (its snapshot removed) at two points,
  /// the other never restarts. Every profile keeps its id in the first, and the profiles made
  /// after the replays get the ids the second gives them.
  @Test func aReplayAfterAForgetNumbersProfilesAsBefore() async throws {
    let replayed = TemporaryDirectory()
    let reference = TemporaryDirectory()
    defer {
      replayed.remove()
      reference.remove()
    }
    func reopen(_ store: EmbeddedStore) async throws -> EmbeddedStore {
      await store.close()
      try FileManager.default.removeItem(atPath: replayed.path + "/" + GraphSnapshotFile.name)
      let again = try EmbeddedStore(directory: replayed.path, logger: logger)
      #expect(!again.restoredFromSnapshot)
      return again
    }
    var a = try EmbeddedStore(directory: replayed.path, logger: logger)
    let b = try EmbeddedStore(directory: reference.path, logger: logger)
    for s in [a, b] {
      _ = try await s.ingest(Self.batch(0..<60, prefix: "A"))
      _ = try await s.ingest(Self.batch(0..<30, prefix: "B"))
      // Profiles created early go: every later profile's id would be lower in a plain replay.
      #expect(try await s.forget(.cookie("Ac1")) != nil)
      #expect(try await s.forget(.cookie("Ac2")) != nil)
    }
    let before = try await Self.ids(a, Self.cookies)
    #expect(before == (try await Self.ids(b, Self.cookies)))
    a = try await reopen(a)
    #expect(try await Self.ids(a, Self.cookies) == before, "a replay renumbered the profiles")

    for s in [a, b] {
      _ = try await s.ingest(Self.batch(30..<60, prefix: "B") + Self.batch(0..<40, prefix: "C"))
      #expect(try await s.forget(.cookie("Bc7")) != nil)
    }
    a = try await reopen(a)
    #expect(try await Self.ids(a, Self.cookies) == (try await Self.ids(b, Self.cookies)))
    await a.close()
    await b.close()
  }

  /// As after a crash: the database files copied while the store runs (its last commit's
  /// creations are not logged yet, the way a kill leaves them) open by replaying. A split made a
  /// profile (splits are replayed, not logged) that a forget then erased, and the profiles made
  /// after it keep their ids: the erasure logged how many ids were taken.
  @Test func aCrashAfterErasingAProfileASplitMadeKeepsLaterIDs() async throws {
    let live = TemporaryDirectory()
    let crashed = TemporaryDirectory()
    defer {
      live.remove()
      crashed.remove()
    }
    let store = try EmbeddedStore(directory: live.path, logger: logger)
    _ = try await store.ingest([Self.record(0, "X", nil), Self.record(1, "Z", "z@example.com")])
    #expect(try await store.split(cookie: "X") != nil)  // X's profile is made again, at id 2
    #expect(try await store.user(cookie: "X")?.summary.id == 2)
    #expect(try await store.forget(.cookie("X")) != nil)
    // Right after the erasure, so that the creation is not logged when the files are copied.
    _ = try await store.ingest([Self.record(2, "T", nil), Self.record(3, "U", "z@example.com")])
    let cookies = ["Z", "T", "U"]
    let before = try await Self.ids(store, cookies)
    #expect(before == ["Z": 1, "T": 3, "U": 1])
    for file in try FileManager.default.contentsOfDirectory(atPath: live.path) where file.hasPrefix("audience.db") {
      try FileManager.default.copyItem(atPath: live.path + "/" + file, toPath: crashed.path + "/" + file)
    }
    let replayed = try EmbeddedStore(directory: crashed.path, logger: logger)
    #expect(!replayed.restoredFromSnapshot)
    #expect(try await Self.ids(replayed, cookies) == before)
    // New profiles continue after them.
    #expect(try await replayed.ingest([Self.record(5, "W", nil)]) == [.created(4)])
    #expect(try await store.ingest([Self.record(5, "W", nil)]) == [.created(4)])
    await replayed.close()
    await store.close()
  }

  /// The database files copied while the store runs: what a kill leaves.
  static func crashCopy(_ from: TemporaryDirectory) throws -> TemporaryDirectory {
    let to = TemporaryDirectory()
    for file in try FileManager.default.contentsOfDirectory(atPath: from.path) where file.hasPrefix("audience.db") {
      try FileManager.default.copyItem(atPath: from.path + "/" + file, toPath: to.path + "/" + file)
    }
    return to
  }

  /// Opens a copy of `live`'s files as a kill leaves them (so the store replays) and expects
  /// these cookies' profile ids to be `before`.
  func expectIDsAfterACrash(
    of live: TemporaryDirectory, _ before: [String: ProfileID], sourceLocation: SourceLocation = #_sourceLocation
  ) async throws {
    let crashed = try Self.crashCopy(live)
    defer { crashed.remove() }
    let replayed = try EmbeddedStore(directory: crashed.path, logger: logger)
    #expect(try await Self.ids(replayed, Array(before.keys)) == before, sourceLocation: sourceLocation)
    await replayed.close()
  }

  /// Erasing the newest records does not hand their sequence numbers, nor the ids their records
  /// had made, to the next records after a replay.
  @Test func aReplayDoesNotGiveAnErasedRecordsSeqAgain() async throws {
    let live = TemporaryDirectory()
    defer { live.remove() }
    let store = try EmbeddedStore(directory: live.path, logger: logger)
    _ = try await store.ingest([Self.record(0, "Y0", nil), Self.record(1, "Y1", nil)])
    #expect(try await store.forget(.cookie("Y1")) != nil)
    let first = try Self.crashCopy(live)
    defer { first.remove() }
    let replayed = try EmbeddedStore(directory: first.path, logger: logger)
    #expect(try await replayed.ingest([Self.record(2, "Z", nil)]) == [.created(2)])
    let second = try Self.crashCopy(first)
    defer { second.remove() }
    let again = try EmbeddedStore(directory: second.path, logger: logger)
    #expect(try await again.user(cookie: "Z")?.summary.id == 2)
    #expect(try await again.ingest([Self.record(3, "V", nil)]) == [.created(3)])
    for s in [store, replayed, again] { await s.close() }
  }

  /// A forget and then a split with no record between: replayed in that order.
  @Test func aSplitRightAfterAForgetKeepsItsIDs() async throws {
    let live = TemporaryDirectory()
    defer { live.remove() }
    let store = try EmbeddedStore(directory: live.path, logger: logger)
    _ = try await store.ingest([Self.record(0, "X", nil), Self.record(1, "C", nil)])
    #expect(try await store.split(cookie: "X") != nil)  // X: 2
    #expect(try await store.forget(.cookie("X")) != nil)
    #expect(try await store.split(cookie: "C") != nil)  // C: 3
    _ = try await store.ingest([Self.record(2, "W", nil)])
    let before = try await Self.ids(store, ["C", "W"])
    #expect(before == ["C": 3, "W": 4])
    try await expectIDsAfterACrash(of: live, before)
    await store.close()
  }

  /// What is left of a split profile after its other part is forgotten keeps its id, though its
  /// first record had joined the profile through the forgotten cookie.
  @Test func theRestOfASplitProfileKeepsItsIDAfterAForget() async throws {
    let live = TemporaryDirectory()
    defer { live.remove() }
    let store = try EmbeddedStore(directory: live.path, logger: logger)
    _ = try await store.ingest([
      Self.record(0, "c2", "e@example.com"), Self.record(1, "c1", "e@example.com"), Self.record(2, "c3", nil),
    ])
    #expect(try await store.split(cookie: "c1") != nil)  // c2: 2, c1: 3
    _ = try await store.ingest([Self.record(3, "c4", nil)])  // 4
    #expect(try await store.forget(.cookie("c2")) != nil)
    let before = try await Self.ids(store, ["c1", "c3", "c4"])
    #expect(before == ["c1": 3, "c3": 1, "c4": 4])
    try await expectIDsAfterACrash(of: live, before)
    await store.close()
  }

  /// A profile a split rebuilt from two that had merged, whose split cookie is then forgotten,
  /// keeps its id after a crash. (The split erased, its earliest record was logged creating its
  /// id, but the other profile's first record still held the lower id it created when it came:
  /// the replay's merge kept that one, 1 instead of 2, with the cookies in the other order.)
  @Test func aSplitProfileMadeOfTwoMergedKeepsItsIDWhenTheSplitCookieIsForgotten() async throws {
    let live = TemporaryDirectory()
    defer { live.remove() }
    let store = try EmbeddedStore(directory: live.path, logger: logger)
    _ = try await store.ingest([
      Self.record(0, "u1", "e1@example.com"), Self.record(1, "kiosk", "e1@example.com"),
      Self.record(2, "u3", "e3@example.com"), Self.record(3, "u3", "e1@example.com"),
    ])
    #expect(try await store.split(cookie: "kiosk") != nil)  // u1 and u3: 2, kiosk: 3
    #expect(try await store.forget(.cookie("kiosk")) != nil)
    let before = try await Self.ids(store, ["u1", "u3"])
    #expect(before == ["u1": 2, "u3": 2])
    try await expectIDsAfterACrash(of: live, before)
    let crashed = try Self.crashCopy(live)
    defer { crashed.remove() }
    let replayed = try EmbeddedStore(directory: crashed.path, logger: logger)
    #expect(try await replayed.user(cookie: "u1")?.summary.cookies == ["u1", "u3"])
    for s in [store, replayed] { await s.close() }
  }

  /// Two splits of one profile, then a forget of the rest of it: the second split's cookie keeps
  /// its id after a crash. (Its first record had joined the first record's profile live; in the
  /// replay, that record erased, it made a profile in the first split, which took the id the
  /// second split had given it, so the second gave a fresh one: 6 came back as 9.)
  @Test func aSecondSplitsProfileKeepsItsIDWhenARecordNowMakesOneInTheFirst() async throws {
    let live = TemporaryDirectory()
    defer { live.remove() }
    let store = try EmbeddedStore(directory: live.path, logger: logger)
    _ = try await store.ingest([
      Self.record(0, "a", "m3@example.com"), Self.record(1, "k7", "m3@example.com"), Self.record(2, "k5", "m3@example.com"),
    ])
    #expect(try await store.split(cookie: "k5") != nil)
    _ = try await store.ingest([
      Self.record(3, "b", "m8@example.com"), Self.record(4, "c", "m5@example.com"), Self.record(5, "c", "m1@example.com"),
      Self.record(6, "b", "m1@example.com"), Self.record(7, "a", "m5@example.com"),
    ])
    #expect(try await store.split(cookie: "k7") != nil)
    #expect(try await store.forget(.email("m8@example.com")) != nil)
    let before = try await Self.ids(store, ["k5", "k7"])
    #expect(before == ["k5": 2, "k7": 6])
    try await expectIDsAfterACrash(of: live, before)
    await store.close()
  }

  /// A profile a split made keeps its id after a crash when that split's cookie is forgotten,
  /// though its earliest record came before a split that stays (of another profile). (The forget
  /// left it to the split that stays, which never rebuilt it: k8 came back as 2, not 6.)
  @Test func aProfileOfAForgottenSplitKeepsItsIDBesideAnotherSplitThatStays() async throws {
    let live = TemporaryDirectory()
    defer { live.remove() }
    let store = try EmbeddedStore(directory: live.path, logger: logger)
    _ = try await store.ingest([
      Self.record(0, "k3", "m4@example.com"), Self.record(1, "k2", "m1@example.com"), Self.record(2, "k8", nil),
      Self.record(3, "k1", "m3@example.com"),
    ])
    #expect(try await store.split(cookie: "k1") != nil)
    _ = try await store.ingest([Self.record(4, "k8", "m1@example.com")])
    #expect(try await store.split(cookie: "k2") != nil)
    #expect(try await store.forget(.cookie("k2")) != nil)
    let before = try await Self.ids(store, ["k1", "k3", "k8"])
    #expect(before == ["k1": 4, "k3": 0, "k8": 6])
    try await expectIDsAfterACrash(of: live, before)
    await store.close()
  }

  /// A split after the forget of the last split's cookie gets a number of its own: the ids it
  /// gives are its, after a crash. (SQLite gave it the forgotten split's rowid, and the replay
  /// gave its profiles the ids the forgotten split had given: k10 came back as 5, k4 as 7.)
  @Test func aSplitAfterTheLastSplitIsForgottenKeepsItsIDs() async throws {
    let live = TemporaryDirectory()
    defer { live.remove() }
    let store = try EmbeddedStore(directory: live.path, logger: logger)
    _ = try await store.ingest([
      Self.record(0, "k1", "m8@example.com"), Self.record(1, "k8", "m6@example.com"), Self.record(2, "k4", "m6@example.com"),
      Self.record(3, "k10", "m3@example.com"), Self.record(4, "k4", "m3@example.com"),
    ])
    #expect(try await store.split(cookie: "k8") != nil)
    #expect(try await store.forget(.cookie("k8")) != nil)
    #expect(try await store.split(cookie: "k10") != nil)
    let before = try await Self.ids(store, ["k1", "k4", "k10"])
    #expect(before == ["k1": 0, "k4": 6, "k10": 7])
    try await expectIDsAfterACrash(of: live, before)
    await store.close()
  }

  /// One step of `randomSplitsAndForgetsKeepEveryIDThroughACrash`.
  enum Step: CustomStringConvertible {
    case ingest([(cookie: String, email: String?)])
    case split(String)
    case forgetCookie(String)
    case forgetEmail(String)

    var description: String {
      switch self {
      case .ingest(let records): "ingest " + records.map { "\($0.cookie)/\($0.email ?? "-")" }.joined(separator: ",")
      case .split(let c): "split \(c)"
      case .forgetCookie(let c): "forget \(c)"
      case .forgetEmail(let e): "forget \(e)"
      }
    }

    static func random(_ count: Int, seed: UInt64, cookies: Int = 10, emails: Int = 8) -> [Step] {
      var rng = SplitMix64(seed: seed)
      let cookies = (0..<cookies).map { "k\($0)" }
      let emails = (0..<emails).map { "m\($0)@example.com" }
      return (0..<count).map { _ in
        let op = Double.random(in: 0..<1, using: &rng)
        if op < 0.5 {
          return .ingest((0..<Int.random(in: 1...4, using: &rng)).map { _ in
            let e = Int.random(in: 0...emails.count, using: &rng)
            return (cookies.randomElement(using: &rng)!, e < emails.count ? emails[e] : nil)
          })
        }
        if op < 0.75 { return .split(cookies.randomElement(using: &rng)!) }
        return Bool.random(using: &rng) ? .forgetCookie(cookies.randomElement(using: &rng)!) : .forgetEmail(emails.randomElement(using: &rng)!)
      }
    }
  }

  /// Runs the steps on a fresh store, checking after each one that a replay of a copy of its
  /// files (a crash) gives every cookie the profile it has live; the first step after which it
  /// does not, with what differs, or nil.
  /// - Parameters:
  ///   - cap: the identifier cap; under one, only cookies and emails are compared (a replay may
  ///     number a profile differently there: docs/IDENTITY.md).
  func firstDifference(_ steps: [Step], cookies: Int = 10, cap: Int? = nil) async throws -> (step: Int, live: [String: String], replayed: [String: String])? {
    let live = TemporaryDirectory()
    defer { live.remove() }
    var limits = RecordLimits.default
    if let cap { limits.maxIdentifiersPerProfile = cap }
    let store = try EmbeddedStore(directory: live.path, limits: limits, logger: logger)
    defer { Task { await store.close() } }
    let cookies = (0..<cookies).map { "k\($0)" }
    func people(_ s: EmbeddedStore) async throws -> [String: String] {
      var out: [String: String] = [:]
      for c in cookies {
        if let u = try await s.user(cookie: c) {
          out[c] = (cap == nil ? "\(u.summary.id) " : "") + "\(u.summary.cookies.sorted()) \(u.summary.emails.sorted())"
        }
      }
      return out
    }
    var minute = 0
    for (i, step) in steps.enumerated() {
      switch step {
      case .ingest(let records):
        _ = try await store.ingest(records.map { r in
          minute += 1
          return Self.record(minute, r.cookie, r.email)
        })
      case .split(let c): _ = try await store.split(cookie: c)
      case .forgetCookie(let c): _ = try await store.forget(.cookie(c))
      case .forgetEmail(let e): _ = try? await store.forget(.email(e))  // FAILED_PRECONDITION: only refused links carry it
      }
      let expected = try await people(store)
      let crashed = try Self.crashCopy(live)
      defer { crashed.remove() }
      let replayed = try EmbeddedStore(directory: crashed.path, limits: limits, logger: logger)
      let got = try await people(replayed)
      await replayed.close()
      if got != expected { return (i, expected, got) }
    }
    return nil
  }

  /// Random loads, splits and forgets (of split cookies' people too) over a few cookies and
  /// emails, with a crash after each step: the store replayed from a copy of its files gives
  /// every cookie the profile id, cookies and emails it has live. A failure is cut down to the
  /// steps that still fail. (The identity helper's fuzzer, run the same way through the CLI,
  /// found the four cases above.)
  @Test func randomSplitsAndForgetsKeepEveryIDThroughACrash() async throws {
    // Fixed seeds: 1-80, and four that found the cases IDENTITY.md describes last (a split that
    // stays, beside one a forget erased). 3,000 seeds, and 800 of the longer runs below, passed
    // when they were added.
    for seed in Array(UInt64(1)...80) + [144, 356, 733, 1491] {
      if try await expectNoDifference(seed: seed, steps: 40, cookies: 10, emails: 8) { return }
    }
    // Longer runs over more people, as the identity helper's CLI fuzzer makes them.
    for seed in UInt64(1)...10 {
      if try await expectNoDifference(seed: seed, steps: 80, cookies: 14, emails: 10) { return }
    }
  }

  /// The same random histories under an identifier cap of 5, which refuses links often there:
  /// a replay joins every cookie's records with the same cookies and emails as the live store.
  /// (A forget that erased a split dropped its rebuild's decisions, and the replay decided those
  /// links afresh: 8 of seeds 1-200 linked other emails; 4, 10, 29, 39, 89, 115 and 199 were of
  /// them. Ids are not compared: under the cap a replay may number a profile differently,
  /// docs/IDENTITY.md.) Seed 212 is the one of seeds 1-400 still failing, a known issue: an
  /// erased split's link joined a record to a later split's profile, which a replay's later
  /// split does not reach (docs/STORAGE.md).
  @Test func randomHistoriesUnderACapJoinTheSamePeopleThroughACrash() async throws {
    if let range = ProcessInfo.processInfo.environment["AUDIENCE_CAP_SEEDS"]?.split(separator: "-").compactMap({ UInt64($0) }),
      range.count == 2
    {
      for seed in range[0]...range[1] { _ = try await expectNoDifference(seed: seed, steps: 40, cookies: 10, emails: 8, cap: 5) }
      return
    }
    for seed in [4, 10, 29, 39, 89, 115, 199] + Array(UInt64(1)...30) {
      if try await expectNoDifference(seed: seed, steps: 40, cookies: 10, emails: 8, cap: 5) { return }
    }
    await withKnownIssue("a later split that a replay no longer reaches, under the cap (docs/STORAGE.md)") {
      _ = try await expectNoDifference(seed: 212, steps: 40, cookies: 10, emails: 8, cap: 5)
    }
  }

  /// Records a failure of `randomSplitsAndForgetsKeepEveryIDThroughACrash`'s seed, cut down to
  /// the steps that still fail; whether it failed.
  func expectNoDifference(seed: UInt64, steps count: Int, cookies: Int, emails: Int, cap: Int? = nil) async throws -> Bool {
    var steps = Step.random(count, seed: seed, cookies: cookies, emails: emails)
    guard let found = try await firstDifference(steps, cookies: cookies, cap: cap) else { return false }
    steps = Array(steps[...found.step])
    var i = 0
    while i < steps.count {
      var fewer = steps
      fewer.remove(at: i)
      if try await firstDifference(fewer, cookies: cookies, cap: cap) != nil { steps = fewer } else { i += 1 }
    }
    let last = try await firstDifference(steps, cookies: cookies, cap: cap)
    Issue.record(
      "seed \(seed) (\(count) steps, \(cookies) cookies\(cap.map { ", cap \($0)" } ?? "")): a replay differs after \(steps.map(\.description).joined(separator: "; ")): live \(last?.live ?? [:]), replayed \(last?.replayed ?? [:])")
    return true
  }

  /// Two crashes: the profiles made after the first replay keep their ids through the second.
  /// (A creation only the first replay made, a record whose profile-maker a forget had erased,
  /// took an id past the last commit's; given back when the split took it apart, it left ids no
  /// log named, and the second replay numbered the next profiles from the last logged id.)
  @Test func profilesMadeAfterAReplayKeepTheirIDsThroughASecondCrash() async throws {
    let live = TemporaryDirectory()
    defer { live.remove() }
    let store = try EmbeddedStore(directory: live.path, logger: logger)
    _ = try await store.ingest([Self.record(0, "a1", "e@example.com")])
    _ = try await store.ingest([Self.record(1, "a2", "e@example.com")])
    #expect(try await store.split(cookie: "a2") != nil)
    #expect(try await store.forget(.cookie("a1")) != nil)
    _ = try await store.ingest([Self.record(2, "b1", nil), Self.record(3, "b1", nil), Self.record(4, "b2", nil)])
    let first = try Self.crashCopy(live)
    defer { first.remove() }
    await store.close()
    let replayed = try EmbeddedStore(directory: first.path, logger: logger)
    _ = try await replayed.ingest([Self.record(5, "c1", nil), Self.record(6, "c2", nil)])
    let before = try await Self.ids(replayed, ["a2", "b1", "b2", "c1", "c2"])
    let second = try Self.crashCopy(first)
    defer { second.remove() }
    await replayed.close()
    let again = try EmbeddedStore(directory: second.path, logger: logger)
    #expect(try await Self.ids(again, Array(before.keys)) == before)
    await again.close()
  }

  /// The rest of a split profile forgotten, then a new profile in the last commit before a crash
  /// (its creation not logged yet): the replay's split cookie's record makes a profile the split
  /// at once takes apart (its first record, which made it, was erased), and that profile's id was
  /// taken from the new one, which came back one higher (3 live, 4 after the crash).
  @Test func aProfileMadeAfterForgettingTheRestOfASplitKeepsItsIDAfterACrash() async throws {
    let live = TemporaryDirectory()
    defer { live.remove() }
    let store = try EmbeddedStore(directory: live.path, logger: logger)
    _ = try await store.ingest([Self.record(0, "a1", "a@example.com")])
    _ = try await store.ingest([Self.record(1, "a2", "a@example.com")])
    #expect(try await store.split(cookie: "a2") != nil)  // a1: 1, a2: 2
    #expect(try await store.forget(.cookie("a1")) != nil)
    _ = try await store.ingest([Self.record(2, "b1", "b@example.com")])
    let before = try await Self.ids(store, ["a2", "b1"])
    #expect(before == ["a2": 2, "b1": 3])
    try await expectIDsAfterACrash(of: live, before)
    _ = try await store.ingest([Self.record(3, "d1", nil)])
    let more = try await Self.ids(store, ["a2", "b1", "d1"])
    #expect(more == ["a2": 2, "b1": 3, "d1": 4])
    try await expectIDsAfterACrash(of: live, more)
    await store.close()
  }

  /// Creations that cannot be stored at close: no snapshot is saved, so the next start replays
  /// and logs them again, and a later forget and crash still give the same ids.
  @Test func creationsNotStoredAtCloseAreLoggedAgain() async throws {
    let live = TemporaryDirectory()
    defer { live.remove() }
    var store = try EmbeddedStore(directory: live.path, logger: logger)
    _ = try await store.ingest([Self.record(0, "A", nil), Self.record(1, "B", nil)])
    _ = try await store.ingest([Self.record(2, "C", nil)])  // A and B logged with this commit
    store.writeFault.withLock { $0 = AudienceError(.unavailable, "disk full") }
    await store.close()  // C's creation is not stored
    #expect(!FileManager.default.fileExists(atPath: live.path + "/" + GraphSnapshotFile.name))
    store = try EmbeddedStore(directory: live.path, logger: logger)
    #expect(!store.restoredFromSnapshot)
    #expect(try await store.forget(.cookie("B")) != nil)
    let crashed = try Self.crashCopy(live)
    defer { crashed.remove() }
    let replayed = try EmbeddedStore(directory: crashed.path, logger: logger)
    #expect(try await replayed.user(cookie: "C")?.summary.id == 2)
    #expect(try await replayed.ingest([Self.record(3, "D", nil)]) == [.created(3)])
    for s in [store, replayed] { await s.close() }
  }

  /// A record that two splits apply again, joining a profile in the first and making one in the
  /// second, gets the id the second gave (no forget involved).
  @Test func aRecordTwoSplitsApplyAgainKeepsItsID() async throws {
    let live = TemporaryDirectory()
    defer { live.remove() }
    let store = try EmbeddedStore(directory: live.path, logger: logger)
    _ = try await store.ingest([
      Self.record(0, "A", "e@example.com"), Self.record(1, "C", "e@example.com"), Self.record(2, "S", "e@example.com"),
    ])
    #expect(try await store.split(cookie: "S") != nil)  // A: 1 (C joins it), S: 2
    #expect(try await store.split(cookie: "A") != nil)  // A: 3, C: 4
    _ = try await store.ingest([Self.record(3, "D", nil)])  // 5
    _ = try await store.ingest([Self.record(4, "E", nil)])  // 6
    let cookies = ["A", "C", "S", "D", "E"]
    let before = try await Self.ids(store, cookies)
    #expect(before == ["A": 3, "C": 4, "S": 2, "D": 5, "E": 6])
    try await expectIDsAfterACrash(of: live, before)
    await store.close()
  }

  /// A database from before the log (here: its log emptied) keeps numbering its older records in
  /// creation order, and the log takes over from the first record it names.
  @Test func recordsFromBeforeTheLogKeepTheirIDs() async throws {
    let live = TemporaryDirectory()
    defer { live.remove() }
    var store = try EmbeddedStore(directory: live.path, logger: logger)
    _ = try await store.ingest([Self.record(0, "A", nil), Self.record(1, "B", nil), Self.record(2, "C", nil)])
    _ = try await store.ingest([Self.record(3, "D", nil)])  // logs A, B, C
    try store.db.execute("DELETE FROM profile_creations")  // as an older build left it
    await store.close()  // logs D; the snapshot holds the rest
    store = try EmbeddedStore(directory: live.path, logger: logger)
    #expect(store.restoredFromSnapshot)
    _ = try await store.ingest([Self.record(4, "E", nil)])
    _ = try await store.ingest([Self.record(5, "F", nil)])
    let cookies = ["A", "B", "C", "D", "E", "F"]
    let before = try await Self.ids(store, cookies)
    #expect(before == ["A": 0, "B": 1, "C": 2, "D": 3, "E": 4, "F": 5])
    try await expectIDsAfterACrash(of: live, before)
    await store.close()
  }

  /// The cookie a split took off is forgotten, and the split with it: the rest of the profile,
  /// whose record had joined through that cookie when it came, keeps the id the split gave it;
  /// and when the cookie comes back and is split off again, both keep theirs.
  @Test func theRestKeepsItsIDWhenTheSplitOffCookieIsForgotten() async throws {
    let live = TemporaryDirectory()
    defer { live.remove() }
    let store = try EmbeddedStore(directory: live.path, logger: logger)
    _ = try await store.ingest([Self.record(0, "X", "e@example.com"), Self.record(1, "Y", "e@example.com")])
    #expect(try await store.split(cookie: "X") != nil)  // X: 1, Y: 2
    #expect(try await store.forget(.cookie("X")) != nil)
    #expect(try await store.user(cookie: "Y")?.summary.id == 2)
    let first = try Self.crashCopy(live)
    defer { first.remove() }
    let replayed = try EmbeddedStore(directory: first.path, logger: logger)
    #expect(try await replayed.user(cookie: "Y")?.summary.id == 2)
    await replayed.close()

    _ = try await store.ingest([Self.record(2, "X", "e@example.com")])  // joins Y's profile
    #expect(try await store.split(cookie: "X") != nil)
    _ = try await store.ingest([Self.record(3, "Z", nil)])
    let before = try await Self.ids(store, ["X", "Y", "Z"])
    try await expectIDsAfterACrash(of: live, before)
    await store.close()
  }

  /// Forgetting one split-off cookie leaves the profiles another split made (a split that stays)
  /// to that split in a replay.
  @Test func aForgottenSplitLeavesAnotherSplitsProfilesAlone() async throws {
    let live = TemporaryDirectory()
    defer { live.remove() }
    let store = try EmbeddedStore(directory: live.path, logger: logger)
    _ = try await store.ingest([Self.record(0, "A", "e@example.com"), Self.record(1, "B", "e@example.com")])
    #expect(try await store.split(cookie: "A") != nil)  // A: 1, B: 2
    _ = try await store.ingest([Self.record(2, "C", "f@example.com"), Self.record(3, "D", "f@example.com")])  // 3
    #expect(try await store.split(cookie: "C") != nil)  // C: 4, D: 5
    #expect(try await store.forget(.cookie("C")) != nil)
    let before = try await Self.ids(store, ["A", "B", "D"])
    #expect(before == ["A": 1, "B": 2, "D": 5])
    try await expectIDsAfterACrash(of: live, before)
    await store.close()
  }
}

@Suite("Profile creation log")
struct ProfileCreationLogTests {
  @Test func runsRoundTrip() throws {
    let pairs: [UInt64] = [1, 0, 2, 1, 9, 7, 10, 3, 1 << 40, 5, (1 << 40) + 1, 1 << 30]
    #expect(try ProfileCreationLog.decode(ProfileCreationLog.encode(pairs)) == pairs)
    #expect(try ProfileCreationLog.decode([]) == [])
    // Mostly one byte per number: seqs and ids step by small amounts.
    let run = (0..<1000).flatMap { [UInt64($0 * 2 + 1), UInt64($0)] }
    #expect(ProfileCreationLog.encode(run).count == 2000)
    #expect(try ProfileCreationLog.decode(ProfileCreationLog.encode(run)) == run)
  }

  @Test func aDamagedRunIsRefused() {
    #expect(throws: AudienceError.self) { try ProfileCreationLog.decode([0x81]) }
    #expect(throws: AudienceError.self) { try ProfileCreationLog.decode([0x01, 0x01]) }  // id -1
  }

  /// A record logged again (by a replay that could not give it its old id) keeps its later id;
  /// the ids splits gave are read apart, in the order they were logged.
  @Test func aRecordLoggedAgainKeepsItsLaterID() throws {
    let dir = TemporaryDirectory()
    defer { dir.remove() }
    let db = try SQLiteDatabase(path: dir.path + "/log.db")
    defer { db.close() }
    try db.execute(ProfileCreationLog.schema)
    try ProfileCreationLog.write([5, 1, 6, 2, 7 | IdentityGraph.splitMade, 3], to: db)
    try ProfileCreationLog.write([5, 9, 7 | IdentityGraph.splitMade, 4], to: db)
    let (records, splits) = try ProfileCreationLog.readAll(db)
    #expect(records.map(\.seq) == [5, 6] && records.map(\.id) == [9, 2])
    #expect(splits.map(\.seq) == [7, 7] && splits.map(\.id) == [3, 4])
    #expect(splits.map(\.application) == [0, 0])
    // A split's number, when logged, is read apart from the seq.
    try ProfileCreationLog.write([8 | IdentityGraph.splitMade | 3 << IdentityGraph.applicationShift, 5], to: db)
    let tagged = try ProfileCreationLog.readAll(db).splits.last
    #expect(tagged?.seq == 8 && tagged?.application == 3 && tagged?.id == 5)
  }
}
