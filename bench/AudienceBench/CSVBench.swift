import ArgumentParser
import AudienceClient
import AudienceCore
import Foundation

/// The CLI's share of a CSV ingest before the wire, alone and in-process on one thread: the
/// RFC 4180 parser over the file's bytes (in the 1 MiB chunks `audience ingest` reads), then the
/// header mapping into `RawRecord`s. No socket, no server.
struct CSVBench: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "csv",
    abstract: "Parse a CSV file into records as `audience ingest` does; print microseconds per row.")
  @Option(help: "A CSV file with a header row.") var file: String
  @Option(help: "Timed passes.") var passes = 5

  func run() throws {
    let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
    var parse: [Double] = []
    var map: [Double] = []
    var rows = 0
    for _ in 0..<passes {
      var parser = CSVParser()
      var parsed: [CSVRow] = []
      let t0 = now()
      var at = 0
      while at < bytes.count {
        let end = min(at + (1 << 20), bytes.count)
        parsed.append(contentsOf: parser.feed(bytes[at..<end]))
        at = end
      }
      parsed.append(contentsOf: parser.finish())
      let t1 = now()
      guard let header = parsed.first else { throw BenchError("\(file) has no rows") }
      let columns = try CSVRecords(header: header.fields)
      var records: [RawRecord] = []
      records.reserveCapacity(parsed.count)
      for row in parsed.dropFirst() where row.error == nil {
        if let r = try? columns.record(row.fields, mayHoldNUL: row.hasNUL) { records.append(r) }
      }
      let t2 = now()
      rows = parsed.count - 1
      parse.append(Double(t1 - t0) / 1000 / Double(rows))
      map.append(Double(t2 - t1) / 1000 / Double(rows))
    }
    emit(
      .object([
        ("rows", .int(Int64(rows))),
        ("parse_us_per_row", .double(Stats(parse).median)),
        ("records_us_per_row", .double(Stats(map).median)),
      ]))
  }
}
