/// Who Forget and Export are about.
public enum PersonRef: Hashable, Sendable {
  case cookie(String)
  case email(String)
}

/// Everything held about one person (`audience export`).
public struct PersonExport: Hashable, Sendable {
  /// The merged profile, `cookie` being its latest record's.
  public var data: Record
  public var summary: ProfileSummary
  /// Every raw record stored for the person, oldest first.
  public var records: [Record]

  /// - Parameters: the export's parts.
  public init(data: Record, summary: ProfileSummary, records: [Record]) {
    self.data = data
    self.summary = summary
    self.records = records
  }
}

extension IdentityGraph {
  /// The profile of a person, if known. Emails are compared lower-cased.
  /// - Parameters:
  ///   - person: a cookie (exact, trimmed) or an email.
  public func profileID(of person: PersonRef) -> ProfileID? {
    switch person {
    case .cookie(let c): cookies[c]?.profile
    case .email(let e): emails[e.lowercased()]?.profile
    }
  }

  /// The identity summary of a live profile.
  /// - Parameters:
  ///   - id: the profile.
  public func summary(of id: ProfileID) -> ProfileSummary? { profile(id).map(summary) }

  /// Everything held about a person, or nil when unknown.
  /// - Parameters:
  ///   - person: a cookie or an email.
  public func export(_ person: PersonRef) -> PersonExport? {
    guard let id = profileID(of: person), let p = profile(id) else { return nil }
    return PersonExport(
      data: p.view(cookie: nil, interestCap: limits.maxInterestsPerProfile), summary: summary(p),
      records: recordSeqs(of: id).compactMap { record($0) })
  }
}
