import AudienceCore
import Foundation
import Logging
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
}
