import ArgumentParser
import AudienceCore
import AudienceWire
import Foundation
import NIOCore

/// The wire's share of an ingest, alone and in-process on one thread: the client's encoding of
/// IngestBatch frames, the server's decoding of them (their structure checked and the records'
/// places found: `EncodedRecords`), the validation that reads each record's fields from the frame,
/// and the same for the acknowledgements (one IngestResult per record). It is
/// the floor under any ingest rate: no store, no identity graph, no socket.
struct WireBench: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "wire",
    abstract: "Encode and decode a JSON-lines file's records as IngestBatch frames and their acks; print microseconds per record.")
  @Option(help: "JSON lines, one record per line.") var file: String
  @Option(help: "Records per batch.") var batch = 1_000
  @Option(help: "Timed passes.") var passes = 5
  @Option(help: "Also write the encoded request frames (length-prefixed) to this file, for bench/protobuf-c-floor.c.")
  var dump: String?

  func run() throws {
    let records = try rawRecords(jsonLines: file)
    var batches: [[RawRecord]] = []
    var start = 0
    while start < records.count {
      let end = min(start + batch, records.count)
      batches.append(Array(records[start..<end]))
      start = end
    }
    // Each batch's acknowledgement as the commit hands it over: built before the clock starts.
    let summaries = batches.enumerated().map { i, b in
      IngestSummary(outcomes: (0..<b.count).map { IngestOutcome.created(i * batch + $0 + 1) })
    }
    let n = Double(records.count)
    var stages: [String: [Double]] = [:]
    func time(_ name: String, _ body: () throws -> Void) rethrows {
      let t = now()
      try body()
      stages[name, default: []].append(Double(now() - t) / 1000 / n)
    }
    var bytes = 0
    for _ in 0..<passes {
      var frames: [ByteBuffer] = []
      frames.reserveCapacity(batches.count)
      time("request_encode") {
        for (i, b) in batches.enumerated() {
          var buffer = ByteBuffer()
          WireCodec.encode(
            WireRequest(id: UInt64(i + 2), body: .ingestBatch(IngestBatch(stream: 1, sequence: UInt64(i), records: b))),
            into: &buffer)
          frames.append(buffer)
        }
      }
      bytes = frames.reduce(0) { $0 + $1.readableBytes }
      if let dump {
        _ = FileManager.default.createFile(atPath: dump, contents: Data(frames.flatMap { $0.readableBytesView }))
      }
      var decoded: [IngestRecords] = []
      try time("request_decode") {
        for f in frames {
          // The encoder writes the 4-byte length prefix; the server decodes what follows it.
          guard case .ingestBatch(let b) = try WireCodec.decodeRequest(f.getSlice(at: 4, length: f.readableBytes - 4)!).body
          else { throw BenchError("not a batch") }
          decoded.append(b.records)
        }
      }
      let normalizer = RecordNormalizer()
      var valid: [[Record]] = []
      var ids: [ContentID] = []
      ids.reserveCapacity(records.count)
      time("normalize_and_identify") {
        for received in decoded {
          var out: [Record] = []
          out.reserveCapacity(received.count)
          // As the server takes them: each record moved, not copied.
          func take(_ r: consuming Record?) {
            guard let r = consume r else { return }
            ids.append(ContentID(of: r))
            out.append(consume r)
          }
          switch received {
          case .encoded(let encoded):
            encoded.forEach { _, fields in take(try? normalizer.normalize(fields)) } unreadable: { _, _ in }
          case .decoded(let raws):
            raws.forEachInPlace { _, raw in take(try? normalizer.normalize(raw)) }
          }
          valid.append(out)
        }
      }
      time("release_received") { decoded = [] }
      let kept = valid.reduce(0) { $0 + $1.count }
      guard kept == records.count else { throw BenchError("normalized \(kept) of \(records.count)") }
      var acks: [ByteBuffer] = []
      time("ack_encode") {
        for (i, summary) in summaries.enumerated() {
          var buffer = ByteBuffer()
          WireCodec.encode(WireResponse(id: UInt64(i + 2), body: .ingest(summary)), into: &buffer)
          acks.append(buffer)
        }
      }
      try time("ack_decode") {
        for a in acks { _ = try WireCodec.decodeResponse(a.getSlice(at: 4, length: a.readableBytes - 4)!) }
      }
    }
    var fields: [(String, JSONValue)] = [("records", .int(Int64(records.count))), ("frame_bytes_per_record", .double(Double(bytes) / n))]
    var total = 0.0
    for name in ["request_encode", "request_decode", "normalize_and_identify", "release_received", "ack_encode", "ack_decode"] {
      let s = Stats(stages[name]!)
      total += s.median
      fields.append(("\(name)_us_per_record", .double(s.median)))
    }
    fields.append(("total_us_per_record", .double(total)))
    emit(.object(fields))
  }
}
