import AudienceCore

/// One person document as the resolver reads it: identity and version, not the view.
struct PersonRow {
  var id: ProfileID
  var version: Int64
  var cookies: [String]
  var emails: [String]
  /// A merge in progress: the absorbed person as it was when the merge began.
  var merging: PersonRow? {
    get { absorbing.first }
    set { absorbing = newValue.map { [$0] } ?? [] }
  }
  private var absorbing: [PersonRow] = []
  /// A split in progress: the people to create from this one's former identifiers.
  var splitting: [PersonRow] = []
  /// A merge or a split is in progress: it is finished before anything else touches this person.
  var unsettled: Bool { merging != nil || !splitting.isEmpty }

  init?(_ doc: JSONValue) {
    guard let id = doc.int("_id") else { return nil }
    self.id = ProfileID(id)
    version = doc.int("v") ?? 0
    cookies = doc.strings("cookies")
    emails = doc.strings("emails")
    if let m = doc["merging"], m != .null, let row = PersonRow(m) { merging = row }
    splitting = doc.array("splitting").compactMap(PersonRow.init)
  }

  init(id: ProfileID, version: Int64, cookies: [String], emails: [String]) {
    self.id = id
    self.version = version
    self.cookies = cookies
    self.emails = emails
  }

  var size: Int { cookies.count + emails.count }

  var json: JSONValue {
    .object([
      ("_id", .int(Int64(id))), ("v", .int(version)), ("cookies", .array(cookies.map { .string($0) })),
      ("emails", .array(emails.map { .string($0) })),
    ])
  }

  static let projection: JSONValue = .object([
    ("_id", .int(1)), ("v", .int(1)), ("cookies", .int(1)), ("emails", .int(1)), ("merging", .int(1)),
    ("splitting", .int(1)),
  ])
}
