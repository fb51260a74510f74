import ArgumentParser
import AudienceClient
import AudienceCore
import AudienceWire
import Foundation

/// The CLI's share of a CSV ingest before the wire, alone and in-process on one thread, as
/// `audience ingest` does it: each row encoded from the parser's bytes into batches of 1,000
/// (`CSVRecords.encode`, `encode_us_per_row`); and, for comparison, the parser's rows as strings
/// then `RawRecord`s (`parse_us_per_row` + `records_us_per_row`, the path before
/// 2026-11-27's fifth session). The file is read in 256 KiB chunks. No socket, no server.
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
    var encode: [Double] = []
    var rows = 0
    for _ in 0..<passes {
      do {
        var parser = CSVParser()
        var columns: CSVRecords?
        var builder = EncodedRecords.Builder()
        var batches = 0
        var failure: (any Error)?
        func take(_ row: borrowing CSVByteRow) {
          guard row.error == nil else { return }
          guard let mapping = columns else {
            do { columns = try CSVRecords(header: row.fields) } catch { failure = error }
            return
          }
          _ = try? mapping.encode(row, into: &builder)
          if builder.count == 1000 {
            _ = builder.take()
            batches += 1
          }
        }
        let t0 = now()
        bytes.withUnsafeBytes { all in
          var at = 0
          while at < all.count {
            let end = min(at + (256 << 10), all.count)
            parser.feed(UnsafeRawBufferPointer(rebasing: all[at..<end]), rows: take)
            at = end
          }
        }
        parser.finish(rows: take)
        let t1 = now()
        if let failure { throw failure }
        encode.append(Double(t1 - t0) / 1000 / Double(batches * 1000 + builder.count))
      }

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
        ("encode_us_per_row", .double(Stats(encode).median)),
        ("parse_us_per_row", .double(Stats(parse).median)),
        ("records_us_per_row", .double(Stats(map).median)),
      ]))
  }
}
