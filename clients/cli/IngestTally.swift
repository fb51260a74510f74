import AudienceClient
import AudienceCore

/// What an ingest run did: counts, and the first errors with their lines.
struct IngestTally {
  static let maxErrors = 1000

  struct LineError {
    var line: Int
    var file: String?
    var message: String
  }

  /// Each file's place among those given: errors and warnings are listed by it, then by line.
  var fileOrder: [String: Int] = [:]

  /// The first `maxErrors` of a list by file and line. The CLI finds a row's error as it reads
  /// it, the server's answer comes later: kept in the order found, later lines the CLI refused
  /// displaced earlier ones the server did.
  private func trimmed(_ list: inout [LineError], dropped: inout Int) {
    let order = fileOrder
    func sorted(_ l: [LineError]) -> [LineError] {
      l.sorted { ($0.file.flatMap { order[$0] } ?? 0, $0.line) < ($1.file.flatMap { order[$0] } ?? 0, $1.line) }
    }
    // A file given up on (line 0) is always listed: only the records' errors are cut.
    let files = list.filter { $0.line == 0 }
    var rows = sorted(list.filter { $0.line != 0 })
    if rows.count > Self.maxErrors {
      dropped += rows.count - Self.maxErrors
      rows.removeLast(rows.count - Self.maxErrors)
    }
    list = files.isEmpty ? rows : sorted(files + rows)
  }

  /// Sorts the errors and warnings by file and line, keeping the first `maxErrors` of each.
  mutating func trim() {
    trimmed(&errors, dropped: &errorsDropped)
    trimmed(&cappedReasons, dropped: &warningsDropped)
  }

  var accepted = 0
  var rejected = 0
  var duplicates = 0
  var created = 0
  var updated = 0
  var merged = 0
  /// Stored with an email link refused (the identifier cap, or a split cookie); the first reasons are kept.
  var capped = 0
  var cappedReasons: [LineError] = []
  var errors: [LineError] = []
  var errorsDropped = 0
  var warningsDropped = 0
  var seconds = 0.0

  mutating func reject(line: Int, file: String?, message: String) {
    rejected += 1
    errors.append(LineError(line: line, file: file, message: message))
    if errors.count >= 2 * Self.maxErrors { trimmed(&errors, dropped: &errorsDropped) }
  }

  /// Files given up on part way (unreadable, or a header that names no columns to read).
  var failedFiles = 0

  /// A file given up on: its error is listed with the records' (line 0: the file as a whole).
  mutating func fail(line: Int, file: String?, message: String) {
    failedFiles += 1
    errors.append(LineError(line: line, file: file, message: message))
  }

  /// A record stored, with something said about it (a field in the wrong place, not read).
  mutating func warn(line: Int, file: String?, message: String) {
    cappedReasons.append(LineError(line: line, file: file, message: message))
    if cappedReasons.count >= 2 * Self.maxErrors { trimmed(&cappedReasons, dropped: &warningsDropped) }
  }

  mutating func count(_ outcome: IngestOutcome, line: Int, file: String?) {
    switch outcome {
    case .created: accepted += 1; created += 1
    case .updated: accepted += 1; updated += 1
    case .merged: accepted += 1; merged += 1
    case .duplicate: accepted += 1; duplicates += 1
    case .capped(_, let reason):
      accepted += 1
      capped += 1
      warn(line: line, file: file, message: reason)
    case .rejected(let error):
      // The server says "record N: field: problem"; the line number says more than N.
      var message = error.message
      if message.hasPrefix("record "), let colon = message.firstIndex(of: ":") {
        message = String(message[message.index(after: colon)...].drop(while: { $0 == " " }))
      }
      reject(line: line, file: file, message: message)
    }
  }

  var recordsPerSecond: Double { seconds > 0 ? Double(accepted + rejected) / seconds : 0 }

  var json: JSONValue {
    .object([
      ("accepted", .int(Int64(accepted))), ("rejected", .int(Int64(rejected))),
      ("duplicates", .int(Int64(duplicates))), ("created", .int(Int64(created))),
      ("updated", .int(Int64(updated))), ("merged", .int(Int64(merged))), ("capped", .int(Int64(capped))),
      ("failed_files", .int(Int64(failedFiles))),
      ("errors", .array(errors.map { e in
        var members: [(String, JSONValue)] = e.line > 0 ? [("line", .int(Int64(e.line)))] : []
        if let f = e.file { members.append(("file", .string(f))) }
        members.append(("message", .string(e.message)))
        return .object(members)
      })),
      ("errors_not_shown", .int(Int64(errorsDropped))),
      ("warnings", .array(cappedReasons.map { e in
        var members: [(String, JSONValue)] = [("line", .int(Int64(e.line)))]
        if let f = e.file { members.append(("file", .string(f))) }
        members.append(("message", .string(e.message)))
        return .object(members)
      })),
      ("warnings_not_shown", .int(Int64(warningsDropped))),
      ("seconds", .double((seconds * 1000).rounded() / 1000)),
      ("records_per_second", .int(Int64(recordsPerSecond.rounded()))),
    ])
  }

  var text: String {
    "accepted \(accepted) record(s) (\(created) new profile(s), \(updated) update(s), \(merged) merge(s), "
      + "\(duplicates) duplicate(s)\(capped > 0 ? ", \(capped) with an email link refused (the identifier cap, or a split cookie)" : "")), rejected \(rejected)"
  }
}
