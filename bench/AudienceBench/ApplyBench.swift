import ArgumentParser
import AudienceCore
import Foundation

/// The store writer's in-memory share of an ingest, alone and in-process: records parsed and
/// normalized first, then applied to a fresh identity graph in commit-sized groups (duplicate
/// check, then apply), timed. Deterministic, so `valgrind --tool=callgrind` counts it too.
struct ApplyBench: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "apply",
    abstract: "Apply a JSON-lines file's records to an in-process identity graph; print microseconds per record.")
  @Option(help: "JSON lines, one record per line.") var file: String
  @Option(help: "Records per duplicate-check group (a commit).") var group = 1_000
  @Option(help: "Timed passes, each on a fresh graph.") var passes = 3

  func run() throws {
    let normalizer = RecordNormalizer()
    let records = try rawRecords(jsonLines: file).map { raw in
      var record = try normalizer.normalize(raw)
      if record.createdAt == nil { record.createdAt = Timestamp(seconds: 0) }
      return record
    }
    let ids = records.map(ContentID.init(of:))
    var samples: [Double] = []
    var profiles = 0
    for _ in 0..<passes {
      var graph = IdentityGraph()
      let t = now()
      var seq: UInt64 = 0
      var start = 0
      while start < records.count {
        let end = min(start + group, records.count)
        for i in start..<end where graph.duplicateProfile(of: ids[i]) == nil {
          seq += 1
          graph.apply(StoredRecord(seq: seq, contentID: ids[i], record: records[i]), knownNew: true)
        }
        start = end
      }
      samples.append(Double(now() - t) / 1e3 / Double(records.count))
      profiles = graph.profileCount
    }
    emit(.object([
      ("figure", .string("apply")), ("records", .int(Int64(records.count))), ("profiles", .int(Int64(profiles))),
      ("us_per_record", Stats(samples).json),
      ("profile_stride", .int(Int64(MemoryLayout<Profile?>.stride))), ("record_stride", .int(Int64(MemoryLayout<Record?>.stride))),
    ]))
  }
}
