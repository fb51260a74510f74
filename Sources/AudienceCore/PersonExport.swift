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

  /// Why an email names no person although stored records carry it (their cookie was split
  /// off its profile, or the identifier cap refused the link), naming those cookies; nil when
  /// the email is linked, or on no record. Reads every record: for the privacy commands only.
  /// - Parameters:
  ///   - person: the person asked for.
  ///   - command: the CLI command to suggest (`forget`, `export`, `history`).
  public func unlinkedEmail(_ person: PersonRef, command: String) -> AudienceError? {
    guard case .email(let email) = person else { return nil }
    let e = email.lowercased()
    guard emails[e] == nil else { return nil }
    // The first few cookies are named; one pass, stopped early (a shared email may be on the
    // records of tens of thousands of cookies).
    var holders: [String] = []
    var named = Set<String>()
    var more = false
    for slot in 0..<records.count {
      guard let r = records[slot], r.email == e, !named.contains(r.cookie) else { continue }
      if holders.count == 5 { more = true; break }
      named.insert(r.cookie)
      holders.append(r.cookie)
    }
    return AudienceError.unlinkedEmail(e, holders: holders, more: more, blocked: limits.blockedIdentifiers.contains(e), command: command)
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

/// A person's profile and how it came to be (`audience history`).
public struct PersonHistory: Hashable, Sendable {
  public var summary: ProfileSummary
  public var entries: [HistoryEntry]

  public init(summary: ProfileSummary, entries: [HistoryEntry]) {
    self.summary = summary
    self.entries = entries
  }
}

/// One step of how a person's profile came to be: a raw record and what it changed.
public struct HistoryEntry: Hashable, Sendable {
  public var record: Record
  /// What the record did, in words: "new profile: cookie c1, email a@x.com", "added cookie c2",
  /// "merged the profile of cookie c3 (linked by email b@x.com)", "no new identifier", or the
  /// identifier cap's refusal.
  public var change: String

  public init(record: Record, change: String) {
    self.record = record
    self.change = change
  }
}

extension IdentityGraph {
  /// How a person's profile was built, record by record, oldest first: which record brought
  /// each cookie and email and which record merged which profiles. Computed by replaying the
  /// profile's own records (a profile's history depends on nothing else), so no history is
  /// kept in memory.
  /// - Parameters:
  ///   - person: a cookie or an email.
  ///   - linkedEmails: the emails the person's profile has where it is kept (the MongoDB
  ///     store's document, when this graph is a replay of its records); nil: this graph's.
  public func history(_ person: PersonRef, linkedEmails: Set<String>? = nil) -> PersonHistory? {
    guard let id = profileID(of: person), let summary = summary(of: id) else { return nil }
    var g = IdentityGraph(limits: limits)
    g.splitCookies = splitCookies.intersection(summary.cookies)
    var entries: [HistoryEntry] = []
    // The records are numbered 1, 2, 3... in the replay, in their order: numbered as stored, the
    // replay's slots up to the last one would be made (192 MB for a record at 1,000,000).
    for (n, stored) in recordSeqs(of: id).enumerated() {
      guard let r = record(stored) else { continue }
      let seq = UInt64(n + 1)
      // A link the live graph did not make (the cap refused it when the record came, counting
      // identifiers of profiles that are not this one's) is refused here too: replayed alone,
      // the profile's records had room, and the history showed the link as made.
      if let e = r.email, linkedEmails.map({ !$0.contains(e) }) ?? (profileID(of: .email(e)) != id) {
        g.freezeCapRefusals([CapRefusal(seq: seq, application: 0)])
      }
      let byCookie = g.profileID(of: .cookie(r.cookie))
      let byEmail = r.email.flatMap { g.profileID(of: .email($0)) }
      let absorbedCookies = [byCookie, byEmail].compactMap { $0 }.max().flatMap { g.profile($0)?.cookies } ?? []
      let outcome = g.apply(StoredRecord(seq: seq, contentID: ContentID(of: r), record: r))
      var added: [String] = []
      if byCookie == nil { added.append("cookie \(r.cookie)") }
      if let e = r.email, byEmail == nil, g.profileID(of: .email(e)) != nil { added.append("email \(e)") }
      let change: String
      switch outcome {
      case .created: change = "new profile: " + added.joined(separator: ", ")
      case .updated: change = added.isEmpty ? "no new identifier" : "added " + added.joined(separator: ", ")
      case .merged:
        let via = byCookie != nil && byEmail != nil ? " (linked by cookie \(r.cookie) and email \(r.email ?? ""))" : ""
        change = "merged the profile of cookie \(absorbedCookies.joined(separator: ", "))\(via)"
      case .capped(_, let reason):
        // Refused because the email is blocked now (the list changed since it was stored), not
        // by the cap: said so.
        let blocked = reason == Self.frozenCapRefusal && r.email.map { limits.blockedIdentifiers.contains($0) } == true
        change = blocked ? Self.blockedRefusal : reason
      case .duplicate: change = "duplicate"
      case .rejected(let error): change = error.message
      }
      entries.append(HistoryEntry(record: r, change: change))
    }
    return PersonHistory(summary: summary, entries: entries)
  }
}

extension AudienceError {
  /// The refusal of a privacy command by an email no person has while stored records carry it
  /// (the same words from every store); nil when no record carries it.
  /// - Parameters:
  ///   - email: the email, normalized.
  ///   - holders: the first cookies whose records carry it (at most five).
  ///   - more: whether other cookies carry it too.
  ///   - blocked: whether the email is on --blocked-identifiers.
  ///   - command: the CLI command to suggest (`forget`, `export`, `history`).
  public static func unlinkedEmail(_ email: String, holders: [String], more: Bool, blocked: Bool, command: String) -> AudienceError? {
    guard let first = holders.first else { return nil }
    let list = holders.joined(separator: ", ") + (more ? " and others" : "")
    let why = blocked ? "it is on --blocked-identifiers now" : "the cookie was split off its profile, or the identifier cap refused the link"
    // Cookies that carry it may be different people: one command each (a helper ran the one
    // suggested and was left with the other cookie's record, email and all).
    let each = holders.count > 1 || more ? "; each of those cookies may be a different person: run it for each" : ""
    return AudienceError(
      .failedPrecondition,
      "\(email) is linked to no person, but records of cookie \(list) carry it (\(why)): `audience \(command) --cookie \(first)` is about that cookie's person, with all of its records\(each)"
    )
  }
}
