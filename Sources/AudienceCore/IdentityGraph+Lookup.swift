/// What GetUser returns: the merged profile behind a cookie.
public struct UserView: Hashable, Sendable {
  /// The merged profile in the record shape, `cookie` being the cookie asked for.
  public var data: Record
  public var summary: ProfileSummary

  /// - Parameters:
  ///   - data: the merged record view.
  ///   - summary: the identity summary.
  public init(data: Record, summary: ProfileSummary) {
    self.data = data
    self.summary = summary
  }
}

/// The identity side of a profile.
public struct ProfileSummary: Hashable, Sendable {
  public var id: ProfileID
  public var cookies: [String]
  public var emails: [String]
  public var records: Int
  /// This profile's emails that were seen with two or more cookies.
  public var repeatedEmails: [String]
  public var firstSeen: Timestamp
  public var lastSeen: Timestamp

  /// - Parameters: the summary's fields.
  public init(
    id: ProfileID, cookies: [String], emails: [String], records: Int, repeatedEmails: [String],
    firstSeen: Timestamp, lastSeen: Timestamp
  ) {
    self.id = id
    self.cookies = cookies
    self.emails = emails
    self.records = records
    self.repeatedEmails = repeatedEmails
    self.firstSeen = firstSeen
    self.lastSeen = lastSeen
  }
}

extension IdentityGraph {
  /// The profile a cookie belongs to, or nil for an unknown cookie.
  /// - Parameters:
  ///   - cookie: the cookie, trimmed.
  public func user(cookie: String) -> UserView? {
    // Read in place: a Profile is large, and copying it retains every field.
    guard let id = cookies[cookie]?.profile,
      let data = profiles[id]?.view(cookie: cookie, interestCap: limits.maxInterestsPerProfile),
      let summary = profiles[id].map(summary)
    else { return nil }
    return UserView(data: data, summary: summary)
  }

  /// A live profile's merged view, as a segment's events show it.
  /// - Parameters:
  ///   - id: a profile id.
  public func view(of id: ProfileID) -> Record? {
    id >= 0 && id < profiles.count ? profiles[id]?.view(cookie: nil, interestCap: limits.maxInterestsPerProfile) : nil
  }

  /// The profile with this id, if it is live.
  /// - Parameters:
  ///   - id: a profile id.
  public func profile(_ id: ProfileID) -> Profile? {
    id >= 0 && id < profiles.count ? profiles[id] : nil
  }

  func summary(_ p: Profile) -> ProfileSummary {
    ProfileSummary(
      id: p.id, cookies: p.cookies.array, emails: p.emails.array, records: p.recordCount,
      repeatedEmails: p.emails.filter { (emails[$0]?.cookies.count ?? 0) >= 2 },
      firstSeen: p.first.createdAt, lastSeen: p.last.createdAt)
  }

  /// Emails seen with two or more cookies, with those cookies: the original "cohort" collection.
  public var repeatedEmails: [(email: String, cookies: [String])] {
    emails.filter { $0.value.cookies.count >= 2 }.map { ($0.key.string, $0.value.cookies.array) }.sorted { $0.email < $1.email }
  }

  /// Cookies sharing an email with `cookie` (itself included), ordered by first appearance.
  /// - Parameters:
  ///   - cookie: the cookie whose email cohort is wanted.
  func emailCohort(of cookie: String) -> [String] {
    guard let info = cookies[cookie] else { return [] }
    var result: Set<String> = [cookie]
    for e in info.emails { result.formUnion(emails[e]?.cookies ?? []) }
    return result.sorted { cookies[$0]!.firstSeq < cookies[$1]!.firstSeq }
  }

  /// The latest record of a cookie.
  func latestRecord(of cookie: String) -> Record? {
    cookies[cookie].flatMap { record($0.latest.seq) }
  }
}
