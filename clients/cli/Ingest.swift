import ArgumentParser
import AudienceClient
import AudienceCore
import AudienceWire

/// `audience ingest`
struct Ingest: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Send user records to the server.",
    discussion: """
      `audience ingest --record JSON` sends one record; `audience ingest FILE...` sends JSON lines, \
      one record per line ("-" reads standard input). A record is the original {"data": {...}} \
      shape or the bare object. Re-ingesting a record already stored changes nothing.

      Prints {"accepted": N, "rejected": N, "duplicates": N, "errors": [{"line": N, "message": "..."}], ...} \
      with --json. Exits 0 when every record was accepted, 1 when any was rejected, 4 when the \
      server went away (the summary then counts what the server acknowledged).
      """)

  @OptionGroup var global: GlobalOptions

  @Option(name: .long, help: "One record as JSON.") var record: String?
  @Argument(help: "JSON-lines files to ingest (\"-\" for standard input).") var files: [String] = []
  @Option(name: .customLong("batch-size"), help: "Records per request.") var batchSize: Int = 1000

  func validate() throws {
    if record == nil && files.isEmpty { throw ValidationError("give --record JSON or one or more FILEs") }
    if record != nil && !files.isEmpty { throw ValidationError("give either --record or FILEs, not both") }
    if batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
  }

  func run() async throws {
    var summary = IngestTally()
    let clock = ContinuousClock()
    let started = clock.now
    var failure: (any Error)?
    do {
      try await Output.withClient(global) { client in
        let sender = BatchSender(client: client, batchSize: min(batchSize, client.server.maxRecordsPerBatch))
        if let record {
          try await sender.add(line: 1, file: nil, text: record, into: &summary)
        } else {
          for path in files {
            let reader: LineReader
            do { reader = try LineReader(path: path) } catch {
              throw WireStatus(.invalidArgument, "\(error)")
            }
            while let line = reader.next() {
              if line.allSatisfy(\.isWhitespace) { continue }
              try await sender.add(line: reader.lineNumber, file: files.count > 1 ? path : nil, text: line, into: &summary)
            }
          }
        }
        try await sender.finish(into: &summary)
      }
    } catch {
      failure = error
    }
    let seconds = Double((clock.now - started).components.attoseconds) / 1e18 + Double((clock.now - started).components.seconds)
    summary.seconds = seconds
    summary.errors.sort { ($0.file ?? "", $0.line) < ($1.file ?? "", $1.line) }
    if global.json {
      Output.stdout(summary.json.serialized())
    } else {
      for e in summary.errors { Output.stderr("line \(e.line)\(e.file.map { " of \($0)" } ?? ""): \(e.message)") }
      if summary.errorsDropped > 0 { Output.stderr("... and \(summary.errorsDropped) more errors") }
      Output.stderr(summary.text)
    }
    if let failure { throw failure }
    if summary.rejected > 0 { throw ExitCode(1) }
  }
}

/// Groups lines into batches and keeps a few requests in flight.
final class BatchSender {
  let client: AudienceClient
  let batchSize: Int
  let window = 4
  private var lines: [(line: Int, file: String?)] = []
  private var records: [RawRecord] = []
  private var inFlight: [Task<(IngestSummary, [(line: Int, file: String?)]), any Error>] = []

  init(client: AudienceClient, batchSize: Int) {
    self.client = client
    self.batchSize = batchSize
  }

  /// Parses one line; a line that is not a record is counted as rejected at once.
  func add(line: Int, file: String?, text: String, into tally: inout IngestTally) async throws {
    do {
      let json = try JSONValue(parsing: text)
      records.append(try RecordJSON.record(from: json))
      lines.append((line, file))
    } catch let e as JSONParseError {
      tally.reject(line: line, file: file, message: e.description)
    } catch let e as AudienceError {
      tally.reject(line: line, file: file, message: e.message)
    }
    if records.count >= batchSize { try await flush(into: &tally) }
  }

  func finish(into tally: inout IngestTally) async throws {
    try await flush(into: &tally)
    while !inFlight.isEmpty { try await collect(into: &tally) }
  }

  private func flush(into tally: inout IngestTally) async throws {
    guard !records.isEmpty else { return }
    let batch = records
    let where_ = lines
    records = []
    lines = []
    let client = self.client
    inFlight.append(Task { (try await client.ingest(batch), where_) })
    if inFlight.count >= window { try await collect(into: &tally) }
  }

  private func collect(into tally: inout IngestTally) async throws {
    let task = inFlight.removeFirst()
    let (summary, where_) = try await task.value
    for (outcome, place) in zip(summary.outcomes, where_) { tally.count(outcome, line: place.line, file: place.file) }
  }
}
