import AudienceCore

/// The documents of the original layout:
/// - `users`: every raw record, `{_id: <content id>, seq, data: {...}}`;
/// - `unique`: one document per person, `{_id: <profile id>, v, data: {...}, cookies, emails,
///   records, repeated, first_seen, last_seen, q: {...}}` where `data` is the merged view in the
///   record's shape and `q` holds the values filters test (folded), served by indexes;
/// - `cohort`: the raw records of repeated emails, shaped as in `users`.
enum MongoDocuments {
  static let users = "users"
  static let unique = "unique"
  static let cohort = "cohort"
  static let counters = "counters"
  static let splits = "splits"

  /// A raw record document.
  /// - Parameters:
  ///   - stored: the record.
  ///   - pending: marked as not linked yet (`pending: true`, removed once it is): a writer that
  ///     dies between storing and linking it leaves the mark, and the record is linked when sent
  ///     again, whatever was written since.
  static func raw(_ stored: StoredRecord, pending: Bool = false) -> JSONValue {
    .object(
      [
        ("_id", .string(stored.contentID.description)), ("seq", .int(Int64(bitPattern: stored.seq))),
        ("data", RecordJSON.data(stored.record)),
      ] + (pending ? [("pending", .bool(true))] : []))
  }

  /// A raw record document read back.
  static func stored(_ doc: JSONValue) -> StoredRecord? {
    guard let data = doc["data"], let cookie = data.string("cookie"), let seq = doc.int("seq"),
      let id = doc.string("_id").flatMap(ContentID.init(hex:))
    else { return nil }
    let location = data["location"] ?? .null
    let demographics = data["demographics"] ?? .null
    let record = Record(
      cookie: cookie, email: data.string("email"), phoneNumber: data.string("phone_number"),
      createdAt: data.string("created_at").flatMap(Timestamp.init(parsing:)),
      location: Location(state: location.string("state"), country: location.string("country"), city: location.string("city")),
      demographics: Demographics(
        age: demographics.int("age").map(Int.init), gender: demographics.string("gender"),
        income: demographics.string("income"), education: demographics.string("education")),
      interests: data.strings("interests"))
    return StoredRecord(seq: UInt64(bitPattern: seq), contentID: id, record: record)
  }

  /// A person's document, computed from the replay of their records.
  static func person(
    id: ProfileID, version: Int64, replay: ProfileReplay, cookies: [String], emails: [String],
    categories: InterestCategories
  ) -> JSONValue {
    let summary = replay.summary(id: id)
    let f = replay.filterFields(categories: categories)
    let view = replay.view()
    func opt(_ s: String?) -> JSONValue { s.map { .string($0) } ?? .null }
    var q: [(String, JSONValue)] = [
      ("interests", .array(f.interests.map { .string($0) })), ("category", .string(f.category)),
      ("created", .int(f.created)), ("seen", .int(f.seen)), ("cohort", .bool(f.inCohort)),
      ("repeated_n", .int(Int64(summary.repeatedEmails.count))),
      // The category of the interests shown (at most the cap), which analytics count; `category`
      // (of the kept interests, the same ones since the cap applies to filters too) is what
      // filters test, as in the embedded store.
      ("view_category", .string(categories.category(of: view.interests))),
    ]
    // Absent, not null, when unknown: a range never matches a missing value, as in the embedded index.
    if let age = f.age { q.append(("age", .int(Int64(age)))) }
    for field in StringField.allCases { if let v = f.value(field) { q.append((field.rawValue, .string(v))) } }
    // With its fraction when it has one, so that a range compares it as the embedded index does.
    if let income = f.income { q.append(("income", f.incomeExact.map { .double($0) } ?? .int(income))) }
    if let label = f.incomeLabel { q.append(("income_label", .string(label))) }
    var members: [(String, JSONValue)] = [
      ("_id", .int(Int64(id))), ("v", .int(version)), ("data", RecordJSON.data(view)),
      ("cookies", .array(cookies.map { .string($0) })),
    ]
    // No `emails` member without emails: the unique index on it is sparse.
    if !emails.isEmpty { members.append(("emails", .array(emails.map { .string($0) }))) }
    members += [
      ("records", .int(Int64(summary.records))), ("repeated", .array(summary.repeatedEmails.map { .string($0) })),
      ("first_seen", .string(summary.firstSeen.iso8601)), ("last_seen", .string(summary.lastSeen.iso8601)),
      ("q", .object(q)),
    ]
    return .object(members)
  }

  /// The summary stored in a person's document.
  static func summary(_ doc: JSONValue) -> ProfileSummary? {
    guard let id = doc.int("_id") else { return nil }
    return ProfileSummary(
      id: ProfileID(id), cookies: doc.strings("cookies"), emails: doc.strings("emails"),
      records: Int(doc.int("records") ?? 0), repeatedEmails: doc.strings("repeated"),
      firstSeen: doc.string("first_seen").flatMap(Timestamp.init(parsing:)) ?? Timestamp(seconds: 0),
      lastSeen: doc.string("last_seen").flatMap(Timestamp.init(parsing:)) ?? Timestamp(seconds: 0))
  }

  /// The merged view stored in a person's document.
  static func view(_ doc: JSONValue) -> Record? {
    guard let data = doc["data"] else { return nil }
    return stored(.object([("_id", .string(ContentID(high: 0, low: 0).description)), ("seq", .int(0)), ("data", data)]))?.record
  }
}
