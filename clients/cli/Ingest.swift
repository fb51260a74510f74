import ArgumentParser
import AudienceClient
import AudienceCore
import AudienceWire
internal import Glibc

/// `audience ingest`
struct Ingest: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Send user records to the server.",
    discussion: """
      `audience ingest --record JSON` sends one record; `audience ingest FILE...` streams JSON lines \
      (one record per line, the original {"data": {...}} shape or the bare object; dotted keys \
      such as "location.city", as pandas' to_json writes them, are read where they point; interests \
      written as one string are read as in CSV) or CSV (a header \
      row naming the columns: cookie, email, phone_number, created_at, state, country, city, age, \
      gender, income, education, interests, or the dotted names pandas writes such as \
      location.city and demographics.age; interests separated by ; or |, or a list as Python \
      writes one, ['Tech', 'Rock & Roll']; other columns ignored; \
      a row with a value past the header's last column refused, and so is a row that repeats \
      the header, as files joined with cat have). The format comes from \
      the extension (.csv, .jsonl/.ndjson/.json) or --format; "-" reads standard input (JSON \
      lines unless --format csv), and a named pipe is read as it is written. When a pipe is \
      quiet for a quarter of a second, the records read so far are sent without waiting for \
      the batch to fill. Re-ingesting a record already stored changes nothing.

      A known field where the record's shape does not read it (a city directly under data) is \
      a warning by line: its value is not stored.

      A bad line is reported with its line number and the good lines around it are kept; a line \
      that is not UTF-8, or a record too large for the server's frame limit, is such a line. \
      In CSV a quoted field may hold line breaks (a column that is read refuses them, as any \
      control character); one longer than 1 MiB is refused with its row, \
      as is a row of more than 65,536 fields or 16 MiB. \
      A quote never closed (none within 16 MiB, or one a later field's quote seems to close) \
      refuses its row, and the lines after it are read as rows. \
      Every file is checked before anything is sent; a file whose header cannot be read is \
      reported and the next one read. A progress line is shown on a terminal. Prints {"accepted": N, "rejected": N, "duplicates": N, \
      "errors": [{"line": N, "message": "..."}], "records_per_second": N, ...} with --json. Exits \
      0 when every record was accepted, 1 when any was rejected, 4 when the server went away \
      (the summary then counts what the server acknowledged), 64 when a file's format cannot be \
      told, 66 when a file cannot be opened (nothing is sent then), 130 when interrupted \
      (Ctrl-C or SIGTERM: what was read is sent and its acknowledgements waited for, 5 s at \
      most, and the summary printed; a second one ends it at once).
      """)

  enum Format: String, ExpressibleByArgument, CaseIterable { case csv, jsonl }

  @OptionGroup var global: GlobalOptions

  @Option(name: .long, help: "One record as JSON.") var record: String?
  @Argument(help: "JSON-lines or CSV files to ingest (\"-\" for standard input).") var files: [String] = []
  @Option(help: "csv or jsonl (default: from each file's extension).") var format: Format?
  @Option(name: .customLong("batch-size"), parsing: .unconditional, help: "Records per batch.") var batchSize: Int = 1000
  @Option(parsing: .unconditional, help: "Batches in flight on the ingest stream (0: the server's default, 32).") var window: Int = 0
  @Option(
    name: .customLong("max-errors"),
    parsing: .unconditional, help: "Stop after this many rejected records. Each record is then checked as it is read, so the run stops at the line that reaches the limit; what only the server's settings refuse (a field past its length limit, a blocked cookie) is known when its batch is answered: the rest of that batch is kept and no other batch is sent.")
  var maxErrors: Int?

  func validate() throws {
    if record == nil && files.isEmpty { throw ValidationError("give --record JSON or one or more FILEs") }
    if record != nil && !files.isEmpty { throw ValidationError("give either --record or FILEs, not both") }
    // Standard input is read once: a second "-" read nothing, without a word.
    if files.filter({ $0 == "-" }).count > 1 { throw ValidationError("\"-\" (standard input) may be given once") }
    if batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
    if window < 0 { throw ValidationError("--window must be 0 or more") }
    if let maxErrors, maxErrors < 1 { throw ValidationError("--max-errors must be at least 1") }
  }

  /// Stops the run once --max-errors is reached.
  struct TooManyErrors: Error {}

  func run() async throws {
    var summary = IngestTally()
    summary.fileOrder = Dictionary(files.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
    let clock = ContinuousClock()
    let started = clock.now
    var failure: (any Error)?
    var requestFailure: WireStatus?
    var progress = Progress(enabled: !global.json && isatty(2) != 0, sizes: files.map(Progress.size(of:)))
    var stopped = false
    var interrupted = false
    Interrupt.install()
    // Every file is opened, and its format told, before anything is sent: a typo in the last
    // name must not leave the first files half sent.
    let formats: [Format]
    do {
      formats = try files.map { path in
        do { try InputFile.check(path) } catch { throw InputProblem(status: Output.status(error), exitCode: 66) }
        do { return try format(of: path) } catch { throw InputProblem(status: Output.status(error), exitCode: 64) }
      }
    } catch let problem as InputProblem {
      // Nothing was sent. With --json, the summary's shape as always (all zero), with the error.
      Output.stderr("audience: \(problem.status.code): \(problem.status.message)")
      if global.json, case .object(let members) = summary.json {
        Output.stdout(
          JSONValue.object(
            members + [("stopped_early", .bool(false)), ("interrupted", .bool(false)), ("error", Output.errorJSON(problem.status))]
          ).serialized())
      }
      throw ExitCode(problem.exitCode)
    }
    // After an interrupt the acknowledgements of what was sent are waited for, but not for ever:
    // a server that stopped answering (`timeout 5 audience ingest` against a hung server waited
    // on) gets `Interrupt.grace`, then the connection is closed and the summary printed.
    let gaveUp = Interrupt.GaveUp()
    let json = global.json
    let watchdog = Task {
      while !Interrupt.isRequested { try await Task.sleep(for: .milliseconds(100)) }
      try await Task.sleep(for: Interrupt.grace)
      gaveUp.set()
      if let client = gaveUp.client {
        await client.close()
      } else {
        // Still connecting (the server accepts but does not answer): nothing was sent.
        let status = WireStatus(.deadlineExceeded, "interrupted while connecting: the server did not answer within \(Interrupt.grace); nothing was sent")
        Output.stderr("audience: \(status.code): \(status.message)")
        if json, case .object(let members) = IngestTally().json {
          Output.stdout(JSONValue.object(members + [("stopped_early", .bool(false)), ("interrupted", .bool(true)), ("error", Output.errorJSON(status))]).serialized())
          Output.flushStandardOutput()
        }
        Glibc.exit(130)
      }
    }
    defer { watchdog.cancel() }
    do {
      try await Output.withClient(global, jsonErrors: false) { client in
        gaveUp.client = client
        // A reader waiting on a quiet pipe stops when the connection closes.
        client.whenClosed { Interrupt.connectionClosed() }
        // With --max-errors, one batch at a time: a record the server rejects is known when its
        // batch is answered, and no batch goes out after the limit is reached.
        let sender = BatchSender(
          stream: try await client.ingestStream(window: maxErrors == nil ? window : 1),
          batchSize: min(batchSize, client.server.maxRecordsPerBatch),
          maxBatchBytes: client.server.maxFrameBytes - IngestStream.requestBytes, maxErrors: maxErrors)
        do {
          if let record {
            try await sender.add(line: 1, file: nil, text: record, into: &summary)
          } else {
            for (index, (path, format)) in zip(files, formats).enumerated() {
              let name = files.count > 1 ? path : nil
              progress.start(file: index, name: name)
              do {
                switch format {
                case .jsonl: try await sendJSONLines(path, name, sender, &summary, &progress)
                case .csv: try await sendCSV(path, name, sender, &summary, &progress)
                }
              } catch let e as FileError {
                // The file's good rows before the failure are kept; the next file is read.
                summary.fail(line: e.line, file: name, message: name == nil ? "\(path): \(e.message)" : e.message)
              }
            }
          }
        } catch is TooManyErrors {
          // --max-errors: nothing more is read. The records read before the error are sent
          // (after one the server rejected, none are: `BatchSender.send`), and waited for, so the
          // summary counts what the server stored.
          stopped = true
        } catch is Interrupt.Stop {
          // Ctrl-C: as for --max-errors, what was read is sent and waited for.
          interrupted = true
        } catch is Interrupt.ConnectionClosed {
          // The server went while the input paused: finishing says so, with what it acknowledged.
        }
        if try await sender.finish(into: &summary) { stopped = true }
      }
    } catch let f as Output.RequestFailed {
      // The summary still says what the server acknowledged before it failed.
      requestFailure = f.status
      failure = Output.exitCode(f.status)
    } catch {
      failure = error
    }
    // Only when the wait failed: an acknowledgement that came as the grace ran out finished it.
    if gaveUp.isSet, failure != nil {
      interrupted = true
      requestFailure = WireStatus(
        .deadlineExceeded,
        "interrupted, and the server acknowledged nothing more within \(Interrupt.grace); what was sent and not acknowledged may be stored or not (ingesting the input again is safe)")
      failure = ExitCode(130)
    }
    if stopped, failure == nil { failure = ExitCode(1) }
    if interrupted, failure == nil { failure = ExitCode(130) }
    progress.clear()
    let elapsed = clock.now - started
    summary.seconds = Double(elapsed.components.attoseconds) / 1e18 + Double(elapsed.components.seconds)
    // In the order the files were given, then by line.
    summary.trim()
    if let status = requestFailure { Output.stderr("audience: \(status.code): \(status.message)") }
    // --max-errors stopped the run with input unread or unsent (not when the last record reached it).
    let stoppedEarly = stopped
    if global.json {
      var json = summary.json
      if case .object(let members) = json {
        // Whether --max-errors stopped the run (the rest of the input was not sent).
        json = .object(members + [("stopped_early", .bool(stoppedEarly)), ("interrupted", .bool(interrupted))])
      }
      if let status = requestFailure, case .object(let members) = json {
        json = .object(members + [("error", Output.errorJSON(status))])
      }
      Output.stdout(json.serialized())
    } else {
      for e in summary.errors {
        // Line 0: the file as a whole (it could not be read on).
        let place = e.line > 0 ? "line \(e.line)\(e.file.map { " of \($0)" } ?? ""): " : e.file.map { "\($0): " } ?? ""
        Output.stderr(place + e.message)
      }
      for w in summary.cappedReasons.prefix(20) {
        Output.stderr("line \(w.line)\(w.file.map { " of \($0)" } ?? ""): warning: \(w.message)")
      }
      if summary.errorsDropped > 0 { Output.stderr("... and \(summary.errorsDropped) more errors") }
      if let maxErrors, stoppedEarly {
        // The batch that reached the limit is answered whole: it may hold more rejections.
        Output.stderr("stopped after \(maxErrors) error(s) (--max-errors; \(summary.rejected) rejected in the batches sent)")
      }
      if interrupted { Output.stderr("interrupted: the rest of the input was not read; the summary counts what the server acknowledged") }
      Output.stderr(summary.text)
    }
    if let failure { throw failure }
    if summary.rejected > 0 || summary.failedFiles > 0 { throw ExitCode(1) }
  }

  /// Whether a file's first chunk holds a CR that no LF follows before the first line feed
  /// (old Mac line ends): the parser ends rows at LF only, and would read the whole file as
  /// one header row.
  static func endsLinesWithCRAlone(_ chunk: ArraySlice<UInt8>) -> Bool {
    let firstLine = chunk.prefix { $0 != 0x0A }
    guard let cr = firstLine.firstIndex(of: 0x0D) else { return false }
    // CR CR LF (Python's csv module on Windows, a file opened without newline='') ends lines too.
    let run = firstLine[cr...].allSatisfy { $0 == 0x0D }
    return !run || firstLine.endIndex == chunk.endIndex
  }

  /// A file given that cannot be opened (exit 66, sysexits' EX_NOINPUT) or whose format cannot be
  /// told (exit 64, a usage error), found before anything is sent.
  struct InputProblem: Error {
    var status: WireStatus
    var exitCode: Int32
  }

  /// A file that cannot be read on, or whose header is unusable: reported, and the next file read.
  struct FileError: Error {
    var line: Int
    var message: String
  }

  private func format(of path: String) throws -> Format {
    if let format { return format }
    let lower = path.lowercased()
    if lower.hasSuffix(".csv") { return .csv }
    if path == "-" || [".jsonl", ".ndjson", ".json", ".jsonlines"].contains(where: { lower.hasSuffix($0) }) { return .jsonl }
    throw WireStatus(.invalidArgument, "\(path): cannot tell the format from the extension; give --format csv or --format jsonl")
  }


  private func sendJSONLines(
    _ path: String, _ name: String?, _ sender: BatchSender, _ summary: inout IngestTally, _ progress: inout Progress
  ) async throws {
    let reader: LineReader
    // A record must fit in a frame; its JSON line may be a few times longer (escapes, names).
    do { reader = try LineReader(path: path, maxLineBytes: 4 * sender.maxBatchBytes) } catch { throw FileError(line: 0, message: "\(error)") }
    let maxErrors = self.maxErrors  // read once, as in `sendCSV`
    while let next = reader.next() {
      if case .quiet = next {
        // The producer paused: what was read goes now, not when a batch fills.
        try await sender.sendPartial(into: &summary)
        continue
      }
      if reader.lineNumber == 1, reader.firstLineHasLoneCR {
        throw FileError(line: 1, message: "the lines end with a carriage return alone (CR); end them with LF or CRLF")
      }
      if case .text(let line) = next, line.allSatisfy(\.isWhitespace) { continue }
      // --max-errors reached before this line: the run stops with it unread.
      if let maxErrors, summary.rejected >= maxErrors { throw TooManyErrors() }
      progress.update(records: summary.accepted + summary.rejected, bytes: reader.bytesRead)
      switch next {
      case .text, .quiet: break
      case .notUTF8:
        summary.reject(line: reader.lineNumber, file: name, message: "the line is not valid UTF-8")
      case .tooLong(let bytes, let first):
        summary.reject(
          line: reader.lineNumber, file: name,
          message: "the line is \(bytes) bytes, longer than any record can be (\(reader.maxLineBytes))"
            + (first == UInt8(ascii: "[") ? "; this looks like a JSON array: ingest takes JSON lines, one object per line" : ""))
      }
      if case .text(let line) = next {
        try Interrupt.check()
        try await sender.add(line: reader.lineNumber, file: name, text: line, into: &summary)
      }
      // Reached with this line: stopped at once, unless the file was read to its end (then the
      // check above stops at a line still to come, and a last line reaching it is no early
      // stop). A pipe is not waited on for a line that may never come.
      if let maxErrors, summary.rejected >= maxErrors, !(reader.size > 0 && reader.bytesRead >= reader.size) {
        throw TooManyErrors()
      }
    }
    // Interrupted while waiting for input: the reader stopped there.
    try Interrupt.check()
    // The lines before are kept; the file is reported (it was taken for its end).
    if let failure = reader.failure { throw FileError(line: 0, message: failure) }
  }

  private func sendCSV(
    _ path: String, _ name: String?, _ sender: BatchSender, _ summary: inout IngestTally, _ progress: inout Progress
  ) async throws {
    let reader: ChunkReader
    do { reader = try ChunkReader(path: path) } catch { throw FileError(line: 0, message: "\(error)") }
    var parser = CSVParser()
    // Read once: an `@Option`'s value is looked up through ArgumentParser's storage each time
    // (6% of the CLI's time when it was read per row).
    let maxErrors = self.maxErrors
    var columns: CSVRecords?
    var headerError: FileError?
    var done = false
    // A row left unread because --max-errors was reached (the run then stopped early).
    var skipped = false
    while !done {
      // Each row is encoded as it is read, from the parser's bytes (no `String` per field);
      // full batches are sent after the chunk.
      func take(_ row: borrowing CSVByteRow) {
        guard headerError == nil else { return }
        guard let mapping = columns else {
          // A header that cannot be read is the file's error, not a rejected record (the next
          // row would be taken for the header).
          if let error = row.error {
            // Nothing of the file is read without its header (the parser's "the lines after it
            // are read as rows" is for a row's quote).
            let said = error.split(separator: "; the lines after it are read as rows").first.map(String.init) ?? error
            headerError = FileError(line: row.line, message: "header: \(said); the file is not read")
            return
          }
          do {
            let read = try CSVRecords(header: row.fields)
            for group in read.groupColumns { summary.warn(line: row.line, file: name, message: CSVRecords.groupWarning(group)) }
            columns = read
          } catch {
            headerError = FileError(line: row.line, message: error.message)
          }
          return
        }
        // Checked once the header is read: a file of a header alone after the limit holds no
        // record, and is no early stop.
        if let maxErrors, summary.rejected >= maxErrors {
          skipped = true
          return
        }
        if let error = row.error {
          summary.reject(line: row.line, file: name, message: error)
          return
        }
        sender.queue(row, mapping, file: name, into: &summary)
      }
      let next: ArraySlice<UInt8>?
      do {
        next = try reader.next()
      } catch let stop as Interrupt.Stop {
        throw stop
      } catch let closed as Interrupt.ConnectionClosed {
        throw closed
      } catch {
        throw FileError(line: 0, message: "\(error)")  // the file is named where it is reported
      }
      if let chunk = next, chunk.isEmpty {
        // The producer paused: the rows read go now, not when a batch fills.
        try await sender.sendPartial(into: &summary)
        continue
      }
      if let chunk = next {
        if reader.bytesRead == chunk.count, Self.endsLinesWithCRAlone(chunk) {
          throw FileError(line: 1, message: "the lines end with a carriage return alone (CR); end them with LF or CRLF")
        }
        chunk.withUnsafeBytes { parser.feed($0, rows: take) }
      } else {
        parser.finish(rows: take)
        done = true
        // Not even a header: an export that wrote nothing was taken for a file without records.
        if columns == nil, headerError == nil {
          headerError = FileError(line: 0, message: "no header row: the file is empty" + (reader.bytesRead > 0 ? " (blank lines or a byte order mark alone)" : ""))
        }
      }
      if let headerError { throw headerError }
      // As when each batch went out as it filled: the batches completed before a --max-errors
      // stop are sent (rows after it were not taken), then the stop is made.
      try await sender.sendQueued(into: &summary)
      // A stop once rows were left unread, or while the file goes on (a last row reaching the
      // limit is no early stop; a row the parser still holds at the end is read by `finish`).
      if let maxErrors, summary.rejected >= maxErrors, skipped || !(done || (reader.size > 0 && reader.bytesRead >= reader.size)) {
        throw TooManyErrors()
      }
      try Interrupt.check()
      progress.update(records: summary.accepted + summary.rejected, bytes: reader.bytesRead)
    }
  }
}
