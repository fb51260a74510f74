import AudienceCore
import Foundation
import Logging
import Testing

@testable import AudienceStore

/// A snapshot whose bytes cannot be read while it is decoded (a disk error, or the file cut
/// short after it was mapped) is refused with an error, and the store replays its records: the
/// pages are read in before they are touched, so the server is not ended by SIGBUS.
@Suite("Snapshot read errors")
struct SnapshotReadErrorTests {
  let logger = Logger(label: "test")

  /// A snapshot of a few hundred profiles, saved by a clean close; its size.
  func savedSnapshot(_ dir: TemporaryDirectory) async throws -> Int {
    let store = try EmbeddedStore(directory: dir.path, logger: logger)
    let records = (0..<600).map { i in
      Record(
        cookie: "c\(i)", email: "p\(i % 400)@example.com", createdAt: Timestamp(year: 2025, month: 3, day: 10),
        location: Location(city: "City \(i % 37)"), demographics: Demographics(age: 20 + i % 50), interests: ["Gaming", "Tech \(i % 9)"])
    }
    _ = try await store.ingest(records)
    await store.close()
    let size = try #require(try FileManager.default.attributesOfItem(atPath: GraphSnapshotFile.path(dir.path))[.size] as? Int)
    return size
  }

  static let page = Int(sysconf(Int32(_SC_PAGESIZE)))

  /// A saved snapshot mapped, then its file cut to its first page (the header stays, the
  /// sections go): its size before the cut.
  func mappedThenCut(_ dir: TemporaryDirectory) async throws -> (MappedSnapshot, size: Int) {
    let size = try await savedSnapshot(dir)
    try #require(size > 3 * Self.page, "\(size) bytes")
    let mapped = try #require(GraphSnapshotFile.map(directory: dir.path))
    #expect(mapped.populate(0..<size))
    #expect(truncate(GraphSnapshotFile.path(dir.path), off_t(Self.page)) == 0)
    return (mapped, size)
  }

  @Test func pagesPastAFileCutShortAreNotReadable() async throws {
    let dir = TemporaryDirectory()
    defer { dir.remove() }
    let (mapped, size) = try await mappedThenCut(dir)
    #expect(mapped.populate(0..<Self.page))
    #expect(!mapped.populate(Self.page..<size), "this kernel (before Linux 5.14?) cannot tell")
    #expect(!mapped.populate(size - 1..<size))
  }

  @Test func aSnapshotCutShortWhileRestoringIsAnErrorNotACrash() async throws {
    let dir = TemporaryDirectory()
    defer { dir.remove() }
    let (mapped, size) = try await mappedThenCut(dir)
    // A kernel that cannot tell would make the restore below a SIGBUS: stop here instead.
    try #require(!mapped.populate(Self.page..<size), "this kernel (before Linux 5.14?) cannot tell")
    #expect(throws: SnapshotError.self) {
      _ = try GraphSnapshotFile.restore(mapped, limits: .default) { 0 }
    }
  }
}
