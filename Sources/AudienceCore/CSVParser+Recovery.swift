/// Reading on after a quote that never closed (`CSVParser`): the lines it swallowed are read
/// again as rows. Pure: no I/O.
extension CSVParser {
  /// A quoted field past `maxFieldBytes`: a closing quote is missing, and the field swallowed the
  /// lines after it. The row is refused, and reading goes on at the line after the one the quote
  /// opened on: the bytes swallowed (and `pending`, not yet appended) are read again as rows.
  /// Skipped to the next line break instead, the rows swallowed were lost without a word (42,832
  /// of them in a test). Within such a re-reading, another field like it is refused as before,
  /// naming the lines it swallowed (re-reading again could take time quadratic in the file).
  mutating func overflowQuoted(_ pending: [UInt8], _ rows: (borrowing CSVByteRow) -> Void) {
    if reread(pending, rows) { return }
    // No line break yet (the field filled on its own line), or within a re-read region.
    let lastLine = pending.last == 0x0A ? line - 1 : line
    fail(
      "a quoted field starting on line \(quoteLine) is longer than \(quotedCap) bytes (is a quote missing?)"
        + (lastLine > quoteLine ? "; lines \(quoteLine + 1) to \(lastLine) were read into it and not stored" : ""))
    // A line break just read ends the line the skipping would otherwise eat.
    if pending.last == 0x0A {
      line -= 1
      step(0x0A, rows)
    }
  }

  /// A quoted field that closed (its quote followed by a comma, a line break or the end) past
  /// `maxFieldBytes`: its row is refused, and reading goes on after it; the lines it held are
  /// not rows. Was taken for a quote never closed, and its lines were stored as records.
  /// - Parameters:
  ///   - rowEnds: the closing quote ended the row (a line break, counted already, or the end).
  ///   - atEnd: the input ended.
  mutating func tooLong(_ rows: (borrowing CSVByteRow) -> Void, rowEnds: Bool, atEnd: Bool = false) {
    let last = rowEnds && !atEnd ? line - 1 : line
    fail(
      "a quoted field starting on line \(quoteLine) is longer than \(maxFieldBytes) bytes"
        + (last > quoteLine ? " (it ends on line \(last)); the row is not stored" : "; the row is not stored"))
    if rowEnds { finishRow(rows) }
  }

  /// Refuses the row whose quoted field never closed, and reads the file's bytes after the line
  /// the quote opened on (the field's, with its doubled quotes as the file had them, then
  /// `pending`) again, as rows. False, doing nothing, when there is no such line break, or the
  /// quote opened in a region read again already.
  mutating func reread(_ pending: [UInt8], _ rows: (borrowing CSVByteRow) -> Void, atEnd: Bool = false) -> Bool {
    guard quoteLine >= rereadThrough else { return false }
    var raw: [UInt8] = []
    raw.reserveCapacity(field.count + undoubled.count + pending.count)
    var from = 0
    for at in undoubled {
      raw.append(contentsOf: field[from..<at])
      raw.append(0x22)
      from = at
    }
    raw.append(contentsOf: field[from...])
    raw.append(contentsOf: pending)
    guard let lineBreak = raw.firstIndex(of: 0x0A) else { return false }
    // The last line the re-read covers: the one holding the last byte read so far (when that is
    // a line break, `line` counted it already).
    let through = pending.last == 0x0A || (pending.isEmpty && raw.last == 0x0A) ? line - 1 : line
    error = error ?? "a quoted field starting on line \(quoteLine) is never closed (is a quote missing?); the lines after it are read as rows"
    field.removeAll(keepingCapacity: true)
    undoubled.removeAll(keepingCapacity: true)
    state = .skipping  // the row's fields so far are handed over as they are
    finishRow(rows)
    rereadThrough = through
    line = quoteLine + 1
    rowLine = line
    raw[(lineBreak + 1)...].withUnsafeBytes { feed($0, rows: rows) }
    if atEnd { finish(rows: rows) }
    return true
  }
}
