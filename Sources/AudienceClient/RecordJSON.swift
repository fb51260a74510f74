public import AudienceCore

extension RecordJSON {
  /// GetUser's answer: `{"data": {...}, "profile": {...}}`.
  /// - Parameters:
  ///   - user: the user view.
  public static func json(_ user: UserView) -> JSONValue {
    .object([("data", data(user.data)), ("profile", json(user.summary))])
  }

  /// A profile summary: `{"id", "cookies", "emails", "records", "repeated_emails", "first_seen", "last_seen"}`.
  /// - Parameters:
  ///   - s: the summary.
  public static func json(_ s: ProfileSummary) -> JSONValue {
    .object([
      ("id", .int(Int64(s.id))),
      ("cookies", .array(s.cookies.map { .string($0) })),
      ("emails", .array(s.emails.map { .string($0) })),
      ("records", .int(Int64(s.records))),
      ("repeated_emails", .array(s.repeatedEmails.map { .string($0) })),
      ("first_seen", .string(s.firstSeen.iso8601)),
      ("last_seen", .string(s.lastSeen.iso8601)),
    ])
  }

  /// Everything held about a person: `{"data", "profile", "records": [{"data": {...}}, ...]}`.
  /// - Parameters:
  ///   - x: the export.
  public static func json(_ x: PersonExport) -> JSONValue {
    .object([("data", data(x.data)), ("profile", json(x.summary)), ("records", .array(x.records.map(json)))])
  }
}
