import AudienceCore
import AudienceWire
import Testing

@testable import AudienceServer

/// The bookkeeping of a connection's ingest streams, without a server.
@Suite("IngestStreams")
struct IngestStreamsTests {
  static func batch(_ sequence: UInt64) -> IngestBatch {
    IngestBatch(stream: 12, sequence: sequence, records: [RawRecord(cookie: "c\(sequence)")])
  }

  /// Batches 0, 3, 7, 1 sent without waiting: 3 closes the stream, and 7 and 1 are refused in
  /// their own words (they were all told "expected batch 1, got 3", which misnamed them).
  @Test func eachBatchAfterAGapIsRefusedInItsOwnWords() {
    var streams = IngestStreams<Int>()
    #expect(streams.open(12, requested: 0, ServerConfiguration(socketPath: "unused")) == .opened(window: 32))
    #expect(streams.accept(100, Self.batch(0), maxRecords: 10) { 0 } == .startCommitting(generation: 1))
    let messages = [3, 7, 1].map { (sequence: UInt64) -> String in
      guard case .refused(let status) = streams.accept(100 + sequence, Self.batch(sequence), maxRecords: 10, prepare: { 0 }) else {
        return "accepted"
      }
      #expect(status.code == .failedPrecondition)
      return status.message
    }
    #expect(
      messages == [
        "ingest stream 12 expected batch 1, got 3; the stream is closed",
        "ingest stream 12 is closed (batch 3 came when batch 1 was expected); batch 7 is refused",
        "ingest stream 12 is closed (batch 3 came when batch 1 was expected); batch 1 is refused",
      ])
  }
}
