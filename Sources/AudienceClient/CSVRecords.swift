public import AudienceCore

/// Records from CSV rows, columns found by header name: the plain names of the original
/// specification (`cookie`, `email`, `phone_number`, `created_at`, `state`, `country`, `city`,
/// `age`, `gender`, `income`, `education`, `interests`) or the dotted names pandas writes
/// (`location.city`, `demographics.age`, `data.location.city`, ...), any case. Unknown columns
/// are ignored; a row with a value past the header's last column is refused (an unquoted comma
/// in a field shifts the values after it: reading such a row would store them in the wrong
/// columns). `interests` is a list separated by `;` or `|`, or a Python list as pandas
/// writes one (`['Tech', 'Gaming']`).
public struct CSVRecords: Sendable {
  enum Column: String, CaseIterable {
    case cookie, email, phone_number, created_at, state, country, city, age, gender, income, education, interests
  }

  let columns: [(Column, Int)]
  /// The header's fields: a data row may have fewer (read as empty), or more if those are empty.
  let width: Int
  /// The header's text of each column read, by position in `columns`.
  let names: [String]
  /// The cookie column's position and its header text's bytes (`isHeader`).
  let cookieColumn: Int
  let cookieName: [UInt8]

  /// Reads the header row.
  /// - Parameters:
  ///   - header: the first row's fields.
  /// - Throws: `invalidArgument` when there is no `cookie` column or a column appears twice.
  public init(header: [String]) throws(AudienceError) {
    var found: [Column: Int] = [:]
    var groups: [String] = []
    for (i, name) in header.enumerated() {
      var key = name.trimmingWhitespace().lowercased()
      if key == "location" || key == "demographics" || key == "data.location" || key == "data.demographics" {
        groups.append(name)
      }
      for prefix in ["data.", "location.", "demographics."] where key.hasPrefix(prefix) {
        key.removeFirst(prefix.count)
      }
      guard let column = Column(rawValue: key) else { continue }
      if let first = found[column] {
        throw AudienceError(.invalidArgument, "header: columns \(first + 1) and \(i + 1) are both \(column.rawValue)")
      }
      found[column] = i
    }
    guard found[.cookie] != nil else {
      throw AudienceError(
        .invalidArgument,
        "header: no cookie column (found \(header.prefix(20).joined(separator: ", "))); expected names like cookie, email, created_at, location.city, demographics.age, interests")
    }
    columns = found.map { ($0.key, $0.value) }.sorted { $0.1 < $1.1 }
    width = header.count
    names = columns.map { header[$0.1] }
    cookieColumn = found[.cookie]!
    cookieName = Array(header[cookieColumn].utf8)
    groupColumns = groups
  }

  /// Columns named for a group of fields (`location`, `demographics`): a DataFrame of the
  /// records' `data` objects, not normalized, writes each as one column of dictionaries, which
  /// is not read; the caller warns of them.
  public let groupColumns: [String]

  /// What to say of a `groupColumns` column.
  public static func groupWarning(_ name: String) -> String {
    let example = name.trimmingWhitespace().lowercased().hasSuffix("location") ? "location.city" : "demographics.age"
    return "column \"\(name)\" is not read: write each of its fields as a column of its own, such as \(example) (pandas: pd.json_normalize)"
  }

  /// Whether a field's bytes are `name`, a byte order mark before it allowed (the header of a
  /// file joined after another: Excel writes one).
  static func isName<C: Collection<UInt8>>(_ field: C, _ name: [UInt8]) -> Bool {
    if field.elementsEqual(name) { return true }
    return field.starts(with: [0xEF, 0xBB, 0xBF]) && field.dropFirst(3).elementsEqual(name)
  }

  /// Refuses a row that repeats the header (files joined with `cat`, each with its header): every
  /// column read holds its own name. It became a person with cookie "cookie".
  /// - Parameters:
  ///   - field: the text of field `i` (0-based).
  func refuseRepeatedHeader(_ field: (Int) -> String) throws(AudienceError) {
    // The joined file's byte order mark, if it had one, is before its header's first field.
    func text(_ i: Int) -> Substring {
      let f = field(i)
      return f.unicodeScalars.first == "\u{FEFF}" ? f.dropFirst() : f[...]
    }
    guard zip(columns, names).allSatisfy({ text($0.0.1) == $0.1 }) else { return }
    throw AudienceError(.invalidArgument, "the header row again (files joined with their headers?): not a record")
  }

  /// Refuses a row with a value past the header's last column.
  /// - Parameters:
  ///   - count: the row's fields.
  ///   - field: the text of field `i` (0-based), read only for `i` past the header.
  func checkWidth(_ count: Int, _ field: (Int) -> String) throws(AudienceError) {
    guard count > width else { return }
    for i in width..<count where !field(i).allSatisfy(\.isWhitespace) {
      throw AudienceError(
        .invalidArgument,
        "\(count) fields but the header has \(width): field \(i + 1) (\"\(field(i).prefix(40))\") has no column (a value holding a comma must be quoted)")
    }
  }

  /// The record in a data row. Missing trailing fields read as empty; fields past the header's
  /// must be empty.
  /// - Parameters:
  ///   - fields: the row's fields.
  ///   - mayHoldNUL: false when the caller knows no field holds a NUL byte (`CSVRow.hasNUL`),
  ///     so the fields are not searched for one again.
  /// - Throws: `invalidArgument` naming the column, e.g. an age that is not a whole number, or
  ///   the field holding a NUL byte; or naming a value past the header's last column.
  public func record(_ fields: [String], mayHoldNUL: Bool = true) throws(AudienceError) -> RawRecord {
    try checkWidth(fields.count) { fields[$0] }
    if cookieColumn < fields.count, Self.isName(fields[cookieColumn].utf8, cookieName) {
      try refuseRepeatedHeader { $0 < fields.count ? fields[$0] : "" }
    }
    var r = RawRecord()
    for (column, i) in columns {
      let value = i < fields.count ? fields[i] : ""
      switch column {
      case .cookie: r.cookie = value
      case .email: r.email = value
      case .phone_number: r.phoneNumber = Self.number(value) ?? value
      case .created_at: r.createdAt = value
      case .state: r.state = value
      case .country: r.country = value
      case .city: r.city = value
      case .gender: r.gender = value
      case .income: r.income = Self.number(value) ?? value
      case .education: r.education = value
      case .interests: r.interests = RecordJSON.interestList(value)
      case .age:
        let text = value.trimmingWhitespace()
        if text.isEmpty || (text.utf8.count == 3 && text.lowercased() == "nan") { continue }
        // Most ages are plain digits: read as an integer before trying a decimal.
        if let n = Int(text), n.magnitude < 1_000_000_000 {
          r.age = n
          continue
        }
        // pandas writes ages as 25.0 when the column has gaps (and 1e2 is read as 100); read as
        // a JSON line's age string is (decimal only: `Double` also reads the hexadecimal "0x1e").
        guard let a = RecordJSON.wholeDecimal(text) else {
          throw .invalidField("age", "\"\(text.prefix(40))\" is not a whole number")
        }
        r.age = a
      }
    }
    return mayHoldNUL ? try r.refusingNUL() : r
  }

  /// `50000.0` (pandas) as `50000`; other text unchanged (nil). For income and phone numbers: a
  /// column pandas read as floats (one gap makes it so) is written with ".0".
  private static func number(_ s: String) -> String? {
    guard s.hasSuffix(".0"), let d = Double(s), d == d.rounded(), abs(d) < 1e15 else { return nil }
    return String(Int64(d))
  }
}
