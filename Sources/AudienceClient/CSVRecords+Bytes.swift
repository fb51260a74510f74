public import AudienceCore
public import AudienceWire

extension CSVRecords {
  /// Adds a data row's record to `builder`: the record `record(_:mayHoldNUL:)` makes of the
  /// row's fields, encoded from the fields' bytes without a `String` of each. The common row
  /// (plain fields, an age of digits, interests separated by `;` or `|`) is read here; anything
  /// else (a NUL, an age like `25.0` or ` 25`, an income like `50000.0`, a Python list, a list
  /// with whitespace at its ends) goes through `record(_:mayHoldNUL:)`, so both read every row
  /// alike (`CSVRecordsBytesTests`). Lists are split by the one splitter (`RecordJSON.listItems`).
  /// - Parameters:
  ///   - checking: when given, the record is added only if it normalizes (what the server would
  ///     refuse of it is refused here, with the normalizer's message).
  /// - Throws: what `record(_:mayHoldNUL:)` throws for the row, or `checking` for its record.
  public func encode(
    _ row: borrowing CSVByteRow, into builder: inout EncodedRecords.Builder, checking: RecordNormalizer? = nil
  ) throws(AudienceError) {
    if row.count > width {
      let extra = copy row
      try checkWidth(extra.count) { String(decoding: extra[$0], as: UTF8.self) }
    }
    if cookieColumn < row.count, Self.isName(row[cookieColumn], cookieName) {
      let again = copy row
      try refuseRepeatedHeader { $0 < again.count ? String(decoding: again[$0], as: UTF8.self) : "" }
    }
    var r = RawRecordBytes()
    // A row the parser found unreadable (bad UTF-8) is the caller's to report; if it is passed
    // anyway, `record` reads it as strings do (U+FFFD), not its raw bytes.
    if !row.hasNUL, row.error == nil, read(row, into: &r) {
      if let checking { _ = try checking.normalize(r) }
      builder.append(r)
    } else {
      let record = try record(row.fields, mayHoldNUL: row.hasNUL)
      if let checking { _ = try checking.normalize(record) }
      builder.append(record)
    }
  }

  /// The row's fields as `record` would set them, or false to leave the row to `record`.
  func read(_ row: borrowing CSVByteRow, into r: inout RawRecordBytes) -> Bool {
    for (column, i) in columns {
      let value = i < row.count ? row[i] : .none
      switch column {
      case .cookie: r.cookie = value
      case .email: r.email = value
      case .phone_number:
        // As income: a phone column pandas read as floats (a gap makes it one) ends in ".0".
        if value.count >= 2, value[value.count - 2] == UInt8(ascii: "."), value[value.count - 1] == UInt8(ascii: "0") {
          return false
        }
        r.phoneNumber = value
      case .created_at: r.createdAt = value
      case .state: r.state = value
      case .country: r.country = value
      case .city: r.city = value
      case .gender: r.gender = value
      case .education: r.education = value
      case .income:
        // `number` rewrites only a value ending in ".0".
        if value.count >= 2, value[value.count - 2] == UInt8(ascii: "."), value[value.count - 1] == UInt8(ascii: "0") {
          return false
        }
        r.income = value
      case .age:
        if value.isEmpty { continue }
        guard value.count <= 9 else { return false }
        var n = 0
        for b in value {
          guard b >= 0x30, b <= 0x39 else { return false }
          n = n * 10 + Int(b - 0x30)
        }
        r.age = n
      case .interests:
        guard Self.splitList(value, into: &r.interests) else { return false }
      }
    }
    return true
  }

  /// `list` of a field whose ends are printable ASCII and not a Python list (which
  /// `trimmingWhitespace` keeps as it is): its items (`RecordJSON.listItems`). False for a field
  /// `list` must read.
  private static func splitList(_ value: UnsafeBufferPointer<UInt8>, into items: inout [UnsafeBufferPointer<UInt8>]) -> Bool {
    guard let first = value.first, let last = value.last else { return true }
    guard (0x21...0x7E).contains(first), (0x21...0x7E).contains(last),
      first != UInt8(ascii: "["), last != UInt8(ascii: "]")
    else { return false }
    RecordJSON.listItems(value) { items.append($0) }
    return true
  }
}
