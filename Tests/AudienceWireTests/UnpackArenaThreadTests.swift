import AudienceCore
@testable import AudienceWire
import Glibc
import NIOCore
import Testing

/// Each thread keeps an emptied unpack arena for its next message; the server runs a thread per
/// connection, so a thread that ends must free its spare, or every connection ever opened
/// leaves one behind.
@Suite("Unpack arena and threads")
struct UnpackArenaThreadTests {
  /// Decodes an ingest request of 200 records (several arena blocks) on the calling thread.
  static func decodeOne() {
    let records = (0..<200).map { i in
      RawRecord(cookie: "cookie-\(i)", email: "user\(i)@example.com", country: "USA", age: 20 + i % 50,
                interests: ["Gaming", "AI"])
    }
    var buffer = ByteBuffer()
    WireCodec.encode(WireRequest(id: 1, body: .ingest(records)), into: &buffer)
    buffer.moveReaderIndex(forwardBy: 4)
    // Through protobuf-c (the server reads a plain Ingest itself: `EncodedRecords`).
    let decoded = try? buffer.withUnsafeReadableBytes { try WireCodec.unpackRequest($0) }
    guard case .ingest(let back)? = decoded?.body, back.count == 200 else { fatalError("the request did not decode") }
  }

  @Test func aThreadThatEndsFreesItsSpareArena() {
    let threads = 400
    let arenasBefore = UnpackArena.liveArenas
    let blocksBefore = UnpackArena.liveBlocks
    for _ in 0..<threads {
      var thread = pthread_t()
      let rc = pthread_create(&thread, nil, { _ in
        UnpackArenaThreadTests.decodeOne()
        return nil
      }, nil)
      #expect(rc == 0)
      guard rc == 0 else { return }
      pthread_join(thread, nil)
    }
    // Other tests in this process decode on their own threads meanwhile, so the counts may move
    // by a few; a spare left by each ended thread would add `threads`.
    let arenasLeft = UnpackArena.liveArenas - arenasBefore
    let blocksLeft = UnpackArena.liveBlocks - blocksBefore
    #expect(arenasLeft < threads / 4, "\(arenasLeft) arenas of \(threads) ended threads are still allocated")
    #expect(blocksLeft < threads / 4, "\(blocksLeft) arena blocks of \(threads) ended threads are still allocated")
  }
}
