import AudienceCore

/// The `users` rows of one queued group of records, encoded by the thread that queues the group
/// rather than by the store's writer: every text column's UTF-8 bytes in one buffer, bound to the
/// insert statement in place (SQLite does not copy them).
struct RecordRows: Sendable {
  /// The text columns, in `RecordTable.insertSQL` order.
  enum Text: Int, CaseIterable {
    case cookie, email, phone, createdAt, state, country, city, gender, income, education, interests

    /// The 1-based parameter of `RecordTable.insertSQL`.
    var parameter: Int32 {
      switch self {
      case .cookie: 3
      case .email: 4
      case .phone: 5
      case .createdAt: 6
      case .state: 7
      case .country: 8
      case .city: 9
      case .gender: 11
      case .income: 12
      case .education: 13
      case .interests: 14
      }
    }
  }

  static let absent: Int32 = -1
  private static let noAge = Int64.min

  private(set) var bytes: [UInt8] = []
  /// Per record, per text column: where its bytes start (`absent` for NULL) and how many.
  private var spans: [Int32] = []
  private var ages: [Int64] = []

  /// - Parameters:
  ///   - records: the normalized records; one without `createdAt` gets its time when bound.
  ///     Each is moved out to a local and back (the array is left as it was): read in place, the
  ///     optimizer would copy it (a retain and a release of each string) for each call.
  init(_ records: inout [Record]) {
    bytes.reserveCapacity(records.count * 192)
    spans.reserveCapacity(records.count * Text.allCases.count * 2)
    ages.reserveCapacity(records.count)
    records.forEachMovedOut { _, r in addRow(r) }
  }

  private mutating func addRow(_ r: Record) {
    add(r.cookie)
    add(r.email)
    add(r.phoneNumber)
    // Written straight into the buffer: as a `String` each record's 19 bytes were a heap block.
    if let time = r.createdAt { span { time.appendISO8601(to: &$0) } } else { absent() }
    add(r.location.state)
    add(r.location.country)
    add(r.location.city)
    add(r.demographics.gender)
    add(r.demographics.income)
    add(r.demographics.education)
    span { StringListCoding.encode(r.interests, into: &$0) }
    ages.append(r.demographics.age.map(Int64.init) ?? Self.noAge)
  }

  private mutating func add(_ text: String?) {
    guard text != nil else { return absent() }
    // Read in place through the optional (binding the string would retain it).
    span { bytes in text?.withUTF8InPlace { bytes.append(contentsOf: $0) } }
  }

  /// A column's bytes, appended by `write`, and where they are.
  private mutating func span(_ write: (inout [UInt8]) -> Void) {
    let start = Int32(bytes.count)
    write(&bytes)
    spans.append(start)
    spans.append(Int32(bytes.count) - start)
  }

  /// A NULL column.
  private mutating func absent() {
    spans.append(Self.absent)
    spans.append(0)
  }

  /// Whether record `i` was sent with a time (one without gets the commit's).
  func hasTime(_ i: Int) -> Bool { spans[i * Text.allCases.count * 2 + Text.createdAt.rawValue * 2] != Self.absent }

  /// Binds record `i`'s row to an insert statement. `base` is `bytes`' address, and stays
  /// valid until the statement is stepped.
  /// - Parameters:
  ///   - createdAt: the time the store gave a record sent without one.
  ///   - firstParameter: added to each parameter number: the row's place in a statement that
  ///     inserts several (`RecordTable.insertSQL(rows:)`).
  func bind(
    _ i: Int, seq: UInt64, contentID: ContentID, createdAt: String?, base: UnsafePointer<CChar>?,
    to stmt: SQLiteStatement, firstParameter p: Int32 = 0
  ) {
    stmt.bind(p + 1, Int64(bitPattern: seq))
    withUnsafeBytes(of: (contentID.high.bigEndian, contentID.low.bigEndian)) { stmt.bind(p + 2, bytes: $0) }
    let first = i * Text.allCases.count * 2
    for column in Text.allCases {
      let start = spans[first + column.rawValue * 2]
      if start == Self.absent {
        if column == .createdAt, let createdAt { stmt.bind(p + column.parameter, createdAt) } else { stmt.bindNull(p + column.parameter) }
      } else {
        stmt.bindStatic(p + column.parameter, base.map { $0 + Int(start) }, count: spans[first + column.rawValue * 2 + 1])
      }
    }
    stmt.bind(p + 10, ages[i] == Self.noAge ? nil : ages[i])
  }
}
