#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// An RFC 4180 CSV reader that is fed bytes in chunks of any size and returns rows as they
/// complete, so a file of any length streams through a bounded buffer. Pure: no I/O.
///
/// Fields are separated by commas and rows by LF or CRLF; a field in double quotes may hold
/// commas, quotes (doubled) and line breaks. A UTF-8 byte order mark at the start is skipped.
/// Empty lines are skipped. A row with broken quoting (a quote inside an unquoted field,
/// text after a closing quote, a quote never closed) or invalid UTF-8 is returned with an
/// `error`, and reading goes on at the next line: for a quote never closed, the line after the
/// one it opened on (the lines it swallowed are read again as rows).
public struct CSVParser: Sendable {
  enum State { case fieldStart, unquoted, quoted, quoteInQuoted, skipping }

  var state = State.fieldStart
  var field: [UInt8] = []
  /// The current row's fields' bytes, one after another, and where each ends.
  private var rowBytes: [UInt8] = []
  private var ends: [Int] = []
  /// Field ends of a line read in place (`wholeLine`), room for a field per byte.
  var lineEnds: [Int] = []
  var rowLine = 1
  var line = 1
  var error: String?
  private var hasNUL = false
  private var started = false
  private var bom: [UInt8] = []
  /// The line the current quoted field opened on.
  var quoteLine = 1
  /// Carriage returns right after what closed a quoted field (skipped; kept to read the bytes
  /// again as the file had them).
  var returnsAfterQuote = 0
  /// Carriage returns outside quotes not yet placed: dropped if a line break follows them (CRLF,
  /// and CR CR LF, which Python's csv module writes on Windows to a file opened without
  /// `newline=''`), kept in the field otherwise (a bare one inside `Ber\rlin` was dropped,
  /// changing the value; kept, it is refused as a control character, as inside quotes).
  private var pendingCR = 0
  /// Where, in `field`, a doubled quote (`""`) of the file was kept as one: the field's bytes
  /// as the file had them are needed to read them again (`reread`).
  var undoubled: [Int] = []
  /// The last line a re-reading covers (`reread`): a quoted field that opens on it or before is
  /// not read again (by lines, not by calls, so that any chunking reads a file alike).
  var rereadThrough = 0
  /// Longest field accepted, so a missing closing quote cannot swallow a whole file.
  public let maxFieldBytes: Int
  /// How far a quoted field is read before its quote is taken for one never closed: a field
  /// past `maxFieldBytes` that closes within it (its closing quote followed by a comma, a line
  /// break or the end) is refused alone, and the lines it held are not rows; one that does not
  /// close by then has its lines read again as rows (`reread`). 16 times `maxFieldBytes`.
  public let maxQuotedBytes: Int

  /// How far the current quoted field is read: `maxQuotedBytes`, or `maxFieldBytes` when it
  /// opened in a region read again (where it cannot be read again: its lines are skipped as
  /// soon as it passes the field limit, as before).
  var quotedCap: Int { quoteLine >= rereadThrough ? maxQuotedBytes : maxFieldBytes }

  /// - Parameters:
  ///   - maxFieldBytes: longest field accepted (default 1 MiB).
  public init(maxFieldBytes: Int = 1 << 20) {
    self.maxFieldBytes = maxFieldBytes
    self.maxQuotedBytes = maxFieldBytes &* 16
  }

  /// Reads more bytes.
  /// - Parameters:
  ///   - bytes: the next chunk of the file.
  /// - Returns: the rows completed by this chunk.
  public mutating func feed(_ bytes: some Sequence<UInt8>) -> [CSVRow] {
    let chunk = Array(bytes)
    return chunk.withUnsafeBytes { feed($0) }
  }

  /// Reads more bytes (without the copy the generic `feed` makes).
  public mutating func feed(_ bytes: ArraySlice<UInt8>) -> [CSVRow] {
    bytes.withUnsafeBytes { feed($0) }
  }

  /// Reads more bytes (without the copy the generic `feed` makes).
  public mutating func feed(_ bytes: [UInt8]) -> [CSVRow] {
    bytes.withUnsafeBytes { feed($0) }
  }

  /// Reads more bytes. The bytes of a field between delimiters are copied as one run, not one
  /// at a time: this is the CSV ingest's inner loop.
  /// - Parameters:
  ///   - bytes: the next chunk of the file.
  /// - Returns: the rows completed by this chunk.
  public mutating func feed(_ bytes: UnsafeRawBufferPointer) -> [CSVRow] {
    var rows: [CSVRow] = []
    feed(bytes) { rows.append($0.row) }
    return rows
  }

  /// Reads more bytes, passing each row completed by them to `rows` as spans of the parser's
  /// bytes (valid only during the call).
  public mutating func feed(_ bytes: UnsafeRawBufferPointer, rows: (borrowing CSVByteRow) -> Void) {
    let n = bytes.count
    var i = 0
    while i < n, !started {
      // Hold back up to three bytes to recognize a byte order mark (EF BB BF).
      bom.append(bytes[i])
      i += 1
      if bom == [0xEF] || bom == [0xEF, 0xBB] { continue }
      started = true
      let held = bom
      bom = []
      if held == [0xEF, 0xBB, 0xBF] { continue }
      for h in held { step(h, rows) }
    }
    while i < n {
      // Not at a carriage return: the general path drops it and the row starts after it (a run
      // of them would otherwise be scanned to the line's end once per byte).
      if state == .fieldStart, pendingCR == 0, ends.isEmpty, bytes[i] != 0x0D, let next = wholeLine(bytes, from: i, rows) {
        i = next
        continue
      }
      switch state {
      case .fieldStart where pendingCR == 0 && bytes[i] != 0x22 && bytes[i] != 0x2C && bytes[i] != 0x0A && bytes[i] != 0x0D:
        // An unquoted field that ends (with a comma or a line break) in this chunk becomes a
        // string straight from the chunk's bytes, not copied into `field` first.
        var j = i + 1
        while j < n {
          let b = bytes[j]
          // Every delimiter is at most 0x2C: most bytes are settled by one comparison.
          if b <= 0x2C, b == 0x22 || b == 0x0A || b == 0x2C || b == 0x0D { break }
          j += 1
        }
        guard j < n, bytes[j] == 0x2C || bytes[j] == 0x0A, j - i <= maxFieldBytes else {
          // A quote, a carriage return or the chunk's end comes first: byte by byte as before.
          state = .unquoted
          continue
        }
        take(UnsafeRawBufferPointer(rebasing: bytes[i..<j]))
        if bytes[j] == 0x0A {
          line += 1
          finishRow(rows)
        }
        i = j + 1
      case .unquoted where pendingCR == 0, .quoted:
        // A run of plain bytes: up to the next byte that means something in this state.
        let quoted = state == .quoted
        var j = i
        while j < n {
          let b = bytes[j]
          if b <= 0x2C, b == 0x22 || b == 0x0A || (!quoted && (b == 0x2C || b == 0x0D)) { break }
          j += 1
        }
        if j > i {
          let run = UnsafeRawBufferPointer(rebasing: bytes[i..<j])
          if !quoted {
            appendRun(run)
          } else if field.count + run.count > quotedCap {
            overflowQuoted(Array(run), rows)
          } else {
            field.append(contentsOf: run)
          }
          i = j
        }
        if i < n {
          step(bytes[i], rows)
          i += 1
        }
      default:
        step(bytes[i], rows)
        i += 1
      }
    }
  }

  /// The end of the file: the last row, if it did not end with a line break.
  public mutating func finish() -> [CSVRow] {
    var rows: [CSVRow] = []
    finish { rows.append($0.row) }
    return rows
  }

  /// The end of the file: passes the last row, if it did not end with a line break, to `rows`.
  public mutating func finish(rows: (borrowing CSVByteRow) -> Void) {
    pendingCR = 0  // the last line's CRs
    if !started {
      started = true
      for h in bom { step(h, rows) }
      bom = []
    }
    switch state {
    case .quoted:
      // The lines after the quote were read into the field: read them again as rows (once).
      if reread([], rows, atEnd: true) { return }
      error = error ?? "a quoted field starting on line \(quoteLine) is never closed"
      endRow(rows)
    case .quoteInQuoted where field.count > maxFieldBytes:
      tooLong(rows, rowEnds: true, atEnd: true)
    case .fieldStart where ends.isEmpty:
      break
    default:
      endRow(rows)
    }
  }

  mutating func step(_ b: UInt8, _ rows: (borrowing CSVByteRow) -> Void) {
    if pendingCR > 0 && b != 0x0D {
      let crs = pendingCR
      pendingCR = 0
      if b != 0x0A && (state == .fieldStart || state == .unquoted) {
        // Said as it is ("a quote inside an unquoted field" named a field that looks quoted).
        if state == .fieldStart && b == 0x22 { return fail("a carriage return before a field's opening quote") }
        if state == .fieldStart { state = .unquoted }
        for _ in 0..<crs where state == .unquoted { append(0x0D) }
      }
    }
    switch state {
    case .skipping:
      if b == 0x0A {
        line += 1
        endRow(rows)
      }
    case .fieldStart:
      switch b {
      case 0x22:
        state = .quoted
        quoteLine = line
      case 0x2C: endField()
      case 0x0D: pendingCR += 1
      case 0x0A:
        line += 1
        if ends.isEmpty { rowLine = line } else { endRow(rows) }
      default:
        append(b)
        state = .unquoted
      }
    case .unquoted:
      switch b {
      case 0x2C: endField()
      case 0x0A:
        line += 1
        endRow(rows)
      case 0x0D: pendingCR += 1
      case 0x22: fail("a quote inside an unquoted field (quote the whole field and double the quote)")
      default: append(b)
      }
    case .quoted:
      if b == 0x22 {
        state = .quoteInQuoted
        returnsAfterQuote = 0
      } else {
        if b == 0x0A { line += 1 }
        if field.count >= quotedCap {
          overflowQuoted([b], rows)
        } else {
          field.append(b)
        }
      }
    case .quoteInQuoted:
      switch b {
      case 0x22:
        if field.count >= quotedCap {
          overflowQuoted([0x22, 0x22], rows)
        } else {
          undoubled.append(field.count)
          field.append(0x22)
          state = .quoted
        }
      case 0x2C:
        if field.count > maxFieldBytes { tooLong(rows, rowEnds: false) } else { endField() }
      case 0x0D: returnsAfterQuote += 1
      case 0x0A:
        line += 1
        if field.count > maxFieldBytes { tooLong(rows, rowEnds: true) } else { endRow(rows) }
      default:
        // Text right after what closed the field: when the field spans lines, its quote was
        // most likely never closed, and this is a later field's quote (`"D.C."`): the lines
        // after the one it opened on are read again as rows (they were counted nowhere).
        if quoteLine < line, reread([0x22] + repeatElement(0x0D, count: returnsAfterQuote) + [b], rows) { return }
        fail(
          "text after the closing quote of a field"
            + (quoteLine < line ? " (a quoted field starting on line \(quoteLine); lines \(quoteLine + 1) to \(line) were read into it and not stored)" : ""))
      }
    }
  }

  /// Appends bytes that are all plain text in the current state.
  private mutating func appendRun(_ run: UnsafeRawBufferPointer) {
    if field.count + run.count > maxFieldBytes {
      fail("a field is longer than \(maxFieldBytes) bytes (is a quote missing?)")
      return
    }
    field.append(contentsOf: run)
  }

  private mutating func append(_ b: UInt8) {
    if field.count >= maxFieldBytes {
      fail("a field is longer than \(maxFieldBytes) bytes (is a quote missing?)")
      return
    }
    field.append(b)
  }

  private mutating func endField() {
    do {
      // A second reference to the bytes, released before `field` is emptied (which then keeps
      // its buffer): `take` changes `fields`, never `field`.
      let bytes = field
      bytes.withUnsafeBytes { take($0) }
    }
    field.removeAll(keepingCapacity: true)
    if !undoubled.isEmpty { undoubled.removeAll(keepingCapacity: true) }
  }

  /// Most fields a row may have: a row of a million empty fields (commas) took 8 bytes each
  /// until its line ended (4.3 GB for 300 MB of commas).
  public static let maxFields = 65_536

  /// Ends the current field with these bytes.
  private mutating func take(_ bytes: UnsafeRawBufferPointer) {
    // A row past `maxFields` fields or `maxQuotedBytes` bytes is refused, and not kept.
    if ends.count >= Self.maxFields || rowBytes.count + bytes.count > maxQuotedBytes {
      let message =
        ends.count >= Self.maxFields
        ? "the row has more than \(Self.maxFields) fields" : "the row is longer than \(maxQuotedBytes) bytes"
      rowBytes.removeAll(keepingCapacity: rowBytes.capacity <= 1 << 20)
      ends.removeAll(keepingCapacity: ends.capacity <= 1 << 16)
      fail(message)
      return
    }
    let bytes = bytes.assumingMemoryBound(to: UInt8.self)
    // Two reductions the compiler vectorizes (a short-circuit `||` would stop it).
    var high: UInt8 = 0
    var low: UInt8 = 0xFF
    for b in bytes {
      high |= b
      low = min(low, b)
    }
    // Decoding repairs invalid UTF-8 (U+FFFD), so bytes that decode to other bytes were invalid.
    // (The contiguous decoding is specialized; `String(validating:as:)` looked up generic
    // metadata on every field.)
    if high >= 0x80, !String(decoding: bytes, as: UTF8.self).utf8.elementsEqual(bytes) {
      error = error ?? "field \(ends.count + 1) is not valid UTF-8"
    }
    hasNUL = hasNUL || low == 0
    rowBytes.append(contentsOf: bytes)
    ends.append(rowBytes.count)
    state = .fieldStart
  }

  private mutating func endRow(_ rows: (borrowing CSVByteRow) -> Void) {
    if state != .skipping { endField() }
    finishRow(rows)
  }

  /// Hands over the row whose last field was ended.
  mutating func finishRow(_ rows: (borrowing CSVByteRow) -> Void) {
    rowBytes.withUnsafeBufferPointer { bytes in
      ends.withUnsafeBufferPointer { ends in
        rows(CSVByteRow(line: rowLine, error: error, hasNUL: hasNUL, bytes: bytes, ends: ends))
      }
    }
    rowBytes.removeAll(keepingCapacity: true)
    ends.removeAll(keepingCapacity: true)
    error = nil
    hasNUL = false
    rowLine = line
    state = .fieldStart
    pendingCR = 0
  }

  /// Marks the row broken and skips to the end of its line.
  mutating func fail(_ message: String) {
    error = error ?? message
    field.removeAll(keepingCapacity: true)
    undoubled.removeAll(keepingCapacity: true)
    state = .skipping
    pendingCR = 0
  }
}
