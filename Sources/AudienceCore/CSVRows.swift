/// One row of a CSV file.
public struct CSVRow: Hashable, Sendable {
  /// The file line the row starts on (1-based; a quoted field may span lines).
  public var line: Int
  public var fields: [String]
  /// Why the row is unreadable (broken quoting, invalid UTF-8); `fields` is then partial.
  public var error: String?
  /// Whether a field holds a NUL byte (found while the bytes were scanned anyway), which the
  /// protocol cannot carry: only such a row needs its fields searched for it.
  public var hasNUL: Bool

  public init(line: Int, fields: [String], error: String? = nil, hasNUL: Bool = false) {
    self.line = line
    self.fields = fields
    self.error = error
    self.hasNUL = hasNUL
  }
}

/// One row of a CSV file as spans of the parser's bytes, valid only during the call it is
/// passed to (`CSVParser.feed(_:rows:)`): a reader that encodes the fields straight away makes
/// no `String` of them.
public struct CSVByteRow {
  /// The file line the row starts on (1-based).
  public let line: Int
  /// Why the row is unreadable (`CSVRow.error`).
  public let error: String?
  /// Whether a field holds a NUL byte.
  public let hasNUL: Bool
  private let bytes: UnsafeBufferPointer<UInt8>
  private let ends: UnsafeBufferPointer<Int>
  /// Bytes between a field's end and the next field: 0 when the fields were gathered without
  /// their commas, 1 when they are read in place on their line.
  private let gap: Int

  init(line: Int, error: String?, hasNUL: Bool, bytes: UnsafeBufferPointer<UInt8>, ends: UnsafeBufferPointer<Int>, gap: Int = 0) {
    (self.line, self.error, self.hasNUL, self.bytes, self.ends, self.gap) = (line, error, hasNUL, bytes, ends, gap)
  }

  /// The number of fields.
  public var count: Int { ends.count }

  /// Field `i`'s bytes (valid UTF-8 unless `error` says otherwise).
  public subscript(_ i: Int) -> UnsafeBufferPointer<UInt8> {
    let start = i == 0 ? 0 : ends[i - 1] + gap
    return UnsafeBufferPointer(rebasing: bytes[start..<ends[i]])
  }

  /// The fields as strings.
  public var fields: [String] { (0..<count).map { String(decoding: self[$0], as: UTF8.self) } }

  /// The row, kept.
  public var row: CSVRow { CSVRow(line: line, fields: fields, error: error, hasNUL: hasNUL) }
}
