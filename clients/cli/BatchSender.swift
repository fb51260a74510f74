import AudienceClient
import AudienceCore
import AudienceWire

/// Groups lines into batches and sends them on an ingest stream (a window of batches in flight;
/// each acknowledged once durable).
final class BatchSender {
  let stream: IngestStream
  let batchSize: Int
  /// Most bytes a batch's records may take: the server refuses a larger frame.
  let maxBatchBytes: Int
  /// --max-errors: once this many records were rejected, no further batch is sent.
  let maxErrors: Int?
  /// With --max-errors, each record is normalized before it is sent, so that what the server
  /// would refuse of it is counted as its line is read, not once a batch is answered (a batch
  /// of 1,000 rows went on past the limit). Its limits are the loosest: what only the server's
  /// configuration refuses (a field's length, a blocked cookie) is still refused by the server.
  let precheck: RecordNormalizer?
  private var lines: [(line: Int, file: String?)] = []
  /// The records of the batch being filled, encoded as they come.
  private var records = EncodedRecords.Builder()
  /// Full batches waiting to be sent, and where their records came from.
  private var queued: [(records: EncodedRecords, lines: [(line: Int, file: String?)])] = []
  /// Where each unacknowledged batch's records came from, by batch sequence.
  private var places: [UInt64: [(line: Int, file: String?)]] = [:]
  private var sequence: UInt64 = 0

  init(stream: IngestStream, batchSize: Int, maxBatchBytes: Int, maxErrors: Int?) {
    self.stream = stream
    self.batchSize = batchSize
    self.maxBatchBytes = maxBatchBytes
    self.maxErrors = maxErrors
    precheck = maxErrors == nil ? nil : RecordNormalizer(limits: Self.loosestLimits)
  }

  /// Limits no server is looser than: no field length or interest count bound, nothing blocked.
  static var loosestLimits: RecordLimits {
    var limits = RecordLimits(maxFieldBytes: .max, maxInterestsPerRecord: .max)
    limits.blockedIdentifiers = []
    return limits
  }

  /// Keeps the batch being filled within `maxBatchBytes` once a record was added to it: a record
  /// that takes it past the limit starts the next batch (the batch before it is queued), and one
  /// too large for any batch is taken out and rejected by its line. Returns whether it was kept.
  private func fit(line: Int, file: String?, into tally: inout IngestTally) -> Bool {
    guard records.batchBytes > maxBatchBytes else { return true }
    let last = records.takeLast()
    if last.batchBytes > maxBatchBytes {
      tally.reject(
        line: line, file: file,
        message: "the record takes \(last.batchBytes) bytes encoded, more than the \(maxBatchBytes) a batch may hold (the server's frame limit)")
      return false
    }
    if records.count > 0 {
      queued.append((records.take(), lines))
      lines = []
    }
    records = last
    return true
  }

  /// Forgets the records read and not sent (a --max-errors stop).
  func dropUnsent() {
    _ = records.take()
    lines = []
    queued = []
  }

  /// Parses one line; a line that is not a record is counted as rejected at once.
  func add(line: Int, file: String?, text: String, into tally: inout IngestTally) async throws {
    // The common line is encoded from its bytes (`RecordJSON.read`); any other is parsed whole.
    let encoded = text.withUTF8InPlace { bytes -> Result<Bool, AudienceError> in
      var fields = RawRecordBytes()
      guard RecordJSON.read(bytes, into: &fields) else { return .success(false) }
      if let precheck {
        do throws(AudienceError) { _ = try precheck.normalize(fields) } catch { return .failure(error) }
      }
      records.append(fields)
      return .success(true)
    }
    if case .failure(let error) = encoded {
      tally.reject(line: line, file: file, message: error.message)
      return
    }
    if case .success(true) = encoded {
      if fit(line: line, file: file, into: &tally) { lines.append((line, file)) }
      try await sendFull(into: &tally)
      return
    }
    let record: RawRecord
    do {
      let json = try JSONValue(parsing: text)
      if case .array = json {
        tally.reject(line: line, file: file, message: "a JSON array, not a record object: ingest takes JSON lines, one object per line (pandas: to_json(orient=\"records\", lines=True))")
        return
      }
      record = try RecordJSON.record(from: json)
      for message in RecordJSON.misplacedFields(in: json) { tally.warn(line: line, file: file, message: message) }
    } catch let e as JSONParseError {
      // A CSV file read as JSON lines (standard input without --format csv): say so on its first line.
      let csv = line == 1 && !text.hasPrefix("{") && !text.hasPrefix("[") && text.contains(",")
      tally.reject(line: line, file: file, message: e.description + (csv ? "; if this is CSV, give --format csv" : ""))
      return
    } catch let e as AudienceError {
      tally.reject(line: line, file: file, message: e.message)
      return
    }
    try await add(line: line, file: file, record: record, into: &tally)
  }

  /// Queues one record; sends a batch when it is full.
  func add(line: Int, file: String?, record: consuming RawRecord, into tally: inout IngestTally) async throws {
    if let precheck {
      do throws(AudienceError) { _ = try precheck.normalize(record) } catch {
        tally.reject(line: line, file: file, message: error.message)
        return
      }
    }
    records.append(record)
    if fit(line: line, file: file, into: &tally) { lines.append((line, file)) }
    try await sendFull(into: &tally)
  }

  /// Sends the batch being filled once it holds `batchSize` records, and any batch `fit` queued.
  private func sendFull(into tally: inout IngestTally) async throws {
    if records.count >= batchSize { try await flush(into: &tally) } else if !queued.isEmpty { try await sendQueued(into: &tally) }
  }

  /// Queues a CSV row's record (a row that is not one is counted as rejected at once); a full
  /// batch waits for `sendQueued`.
  func queue(_ row: borrowing CSVByteRow, _ mapping: CSVRecords, file: String?, into tally: inout IngestTally) {
    do {
      try mapping.encode(row, into: &records, checking: precheck)
    } catch {
      tally.reject(line: row.line, file: file, message: error.message)
      return
    }
    guard fit(line: row.line, file: file, into: &tally) else { return }
    lines.append((row.line, file))
    if records.count >= batchSize {
      queued.append((records.take(), lines))
      lines = []
    }
  }

  /// Sends the full batches `queue` made.
  func sendQueued(into tally: inout IngestTally) async throws {
    let batches = queued
    queued = []
    for (batch, lines) in batches { try await send(batch, lines, into: &tally) }
  }

  /// Sends what is left and waits for every acknowledgement; true when --max-errors stopped it
  /// before the last batches (they are not sent).
  func finish(into tally: inout IngestTally) async throws -> Bool {
    var stopped = false
    do { try await flush(into: &tally) } catch is Ingest.TooManyErrors {
      dropUnsent()
      stopped = true
    }
    do {
      for ack in try await stream.finish() { count(ack, into: &tally) }
    } catch {
      for ack in stream.takeAcknowledged() { count(ack, into: &tally) }  // durable before the failure
      throw error
    }
    return stopped
  }

  /// Sends the records read so far, the batch being filled too (the input paused).
  func sendPartial(into tally: inout IngestTally) async throws { try await flush(into: &tally) }

  private func flush(into tally: inout IngestTally) async throws {
    try await sendQueued(into: &tally)
    guard records.count > 0 else { return }
    let batch = records.take()
    let batchLines = lines
    lines = []
    try await send(batch, batchLines, into: &tally)
  }

  private func send(_ batch: EncodedRecords, _ lines: [(line: Int, file: String?)], into tally: inout IngestTally) async throws {
    if maxErrors != nil {
      // The answers to the batches sent are counted first (one at most: the window is 1), so
      // that no batch goes out after one holding a record the server rejected at the limit.
      while stream.unacknowledged > 0 { count(try await stream.next(), into: &tally) }
      if stoppedByServer { throw Ingest.TooManyErrors() }
    }
    places[sequence] = lines
    sequence += 1
    do {
      // Each record was checked for NUL bytes as it was read (to report its line).
      for ack in try await stream.send(encoded: batch) { count(ack, into: &tally) }
    } catch {
      for ack in stream.takeAcknowledged() { count(ack, into: &tally) }  // durable before the failure
      throw error
    }
  }

  private func count(_ ack: IngestAck, into tally: inout IngestTally) {
    let where_ = places.removeValue(forKey: ack.sequence) ?? []
    for (outcome, place) in zip(ack.summary.outcomes, where_) { tally.count(outcome, line: place.line, file: place.file) }
    if let maxErrors, tally.rejected >= maxErrors, ack.summary.outcomes.contains(where: { if case .rejected = $0 { true } else { false } }) { stoppedByServer = true }
  }

  /// A record the server rejected brought the rejections to --max-errors: no batch is sent after.
  private var stoppedByServer = false

}
