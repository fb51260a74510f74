/// A segmentation query: QueryCohort.
public struct CohortQuery: Hashable, Sendable {
  public static let defaultLimit = 100
  public static let maxLimit = 10_000

  /// Nil matches everyone.
  public var filter: Filter?
  /// Set: the original `/api/cohort/user` route, scoped to the cookie's email cohort.
  public var cookie: String?
  public var limit: Int
  public var cursor: String?
  public var countOnly: Bool

  /// - Parameters:
  ///   - filter: the predicate tree, nil for everyone.
  ///   - cookie: scope to this cookie's email cohort.
  ///   - limit: page size, 1...maxLimit.
  ///   - cursor: `nextCursor` of the previous page.
  ///   - countOnly: return only the total.
  public init(
    filter: Filter? = nil, cookie: String? = nil, limit: Int = CohortQuery.defaultLimit, cursor: String? = nil,
    countOnly: Bool = false
  ) {
    self.filter = filter
    self.cookie = cookie
    self.limit = limit
    self.cursor = cursor
    self.countOnly = countOnly
  }
}

/// One page of a query's answer.
public struct CohortPage: Hashable, Sendable {
  /// Every match, not only this page's.
  public var total: Int
  public var users: [Record]
  /// Nil on the last page.
  public var nextCursor: String?

  /// - Parameters:
  ///   - total: number of matches.
  ///   - users: this page.
  ///   - nextCursor: where the next page starts.
  public init(total: Int, users: [Record], nextCursor: String?) {
    self.total = total
    self.users = users
    self.nextCursor = nextCursor
  }
}

extension IdentityGraph {
  /// Answers a query: from the segment index for profiles, by scanning a cookie's email cohort.
  ///
  /// Without a cookie, users are profiles in creation order (oldest first); the cursor is
  /// the last profile id returned, so every match appears exactly once across pages even
  /// while records arrive (new profiles sort last; a merge keeps the older id).
  /// With a cookie, users are the latest records of the cookies sharing an email with it,
  /// in the order the cookies first appeared.
  /// - Parameters:
  ///   - query: the query.
  ///   - categories: interest categories, for `category` predicates.
  public func query(_ query: CohortQuery, categories: InterestCategories = .standard) throws(AudienceError) -> CohortPage {
    let page = try self.page(query, categories) { r in r } profile: { id in
      profiles[id]?.view(cookie: nil, interestCap: limits.maxInterestsPerProfile)
    }
    return CohortPage(total: page.total, users: page.users, nextCursor: page.nextCursor)
  }

  /// A profile-scoped query's page (no `cookie`) as stamps, for readers that keep each profile's
  /// encoded view (`stampedViews` gives the views they lack). Same order, totals and cursors as
  /// `query`.
  /// - Parameters:
  ///   - query: the query; `query.cookie` must be nil.
  ///   - categories: interest categories, for `category` predicates.
  public func queryStamps(_ query: CohortQuery, categories: InterestCategories = .standard) throws(AudienceError) -> StampedPage {
    precondition(query.cookie == nil, "a cookie-scoped query returns records, not profiles")
    let page = try self.page(query, categories) { _ -> ProfileStamp? in nil } profile: { id -> ProfileStamp? in
      ProfileStamp(id: id, revision: revisions[id])
    }
    return StampedPage(total: page.total, users: page.users, nextCursor: page.nextCursor)
  }

  /// The query's page with each user made by `record` (a cookie-scoped query's latest records)
  /// or `profile` (a live profile's id).
  private func page<User>(
    _ query: CohortQuery, _ categories: InterestCategories, record: (Record) -> User?, profile: (ProfileID) -> User?
  ) throws(AudienceError) -> (total: Int, users: [User], nextCursor: String?) {
    guard (1...CohortQuery.maxLimit).contains(query.limit) else {
      throw .invalidField("limit", "\(query.limit) is outside 1...\(CohortQuery.maxLimit)")
    }
    let scope: Character = query.cookie == nil ? "p" : "c"
    var after: UInt64?
    if let cursor = query.cursor, !cursor.isEmpty {
      guard cursor.first == scope, let n = UInt64(cursor.dropFirst()) else {
        throw .invalidField("cursor", "\(RecordNormalizer.quote(cursor)) is not a cursor of this query")
      }
      after = n
    }
    var total = 0
    var users: [User] = []
    var lastKey: UInt64 = 0
    var more = false
    if let cookie = query.cookie {
      for c in emailCohort(of: cookie) {
        guard let r = latestRecord(of: c), query.filter?.matches(cohortRecord(r), categories) ?? true else { continue }
        total += 1
        let key = cookies[c]!.firstSeq
        if query.countOnly || (after.map { key <= $0 } ?? false) { continue }
        if users.count < query.limit {
          if let user = record(r) { users.append(user) }
          lastKey = key
        } else {
          more = true
        }
      }
    } else {
      let matches = index.evaluate(query.filter, categories)
      total = matches.count
      if !query.countOnly {
        users.reserveCapacity(min(query.limit, total))
        matches.forEach(after: after.map { Int(clamping: min($0, UInt64(Int.max - 1))) } ?? -1) { id in
          guard users.count < query.limit else { more = true; return false }
          if let user = profile(id) { users.append(user) }
          lastKey = UInt64(id)
          return true
        }
      }
    }
    return (total, users, more ? "\(scope)\(lastKey)" : nil)
  }
}

extension IdentityGraph {
  /// The live profiles matching a filter, found the slow way (each profile tested in turn):
  /// the definition the index is tested against.
  /// - Parameters:
  ///   - filter: the filter.
  func scanMatches(_ filter: Filter?, _ categories: InterestCategories = .standard) -> [ProfileID] {
    let cap = limits.maxInterestsPerProfile
    return profiles.compactMap { p in
      p.flatMap { p in
        let match = filter.map { f in p.interests.count > cap ? f.matches(InterestCapped(p, cap: cap), categories) : f.matches(p, categories) }
        return match ?? true ? p.id : nil
      }
    }
  }

  /// A cohort record as a filter sees it.
  func cohortRecord(_ r: Record) -> CohortRecord {
    CohortRecord(record: r, inCohort: r.email.flatMap { emails[$0] }.map { $0.cookies.count >= 2 } ?? false)
  }
}
