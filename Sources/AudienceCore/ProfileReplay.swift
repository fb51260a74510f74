/// A profile rebuilt from its own records alone, for stores that keep no identity graph in memory
/// (the MongoDB store): a profile depends on nothing but its records, so replaying them through an
/// `IdentityGraph` gives the same view, summary and filter fields the embedded store computes.
public struct ProfileReplay: Sendable {
  /// The replayed graph: one profile (more only if the records do not connect).
  public let graph: IdentityGraph
  /// The profile in `graph`.
  public let profileID: ProfileID
  /// Local sequence number (as replayed) -> the record's stored sequence number.
  public let storedSeqs: [UInt64]

  /// Replays records, oldest sequence first.
  /// - Parameters:
  ///   - records: the profile's records with their stored sequence numbers (any order, gaps allowed).
  ///   - emails: the profile's linked emails; a record's other email (a link the identifier cap
  ///     refused) is refused in the replay too, the record keeping it. Nil links every email.
  ///   - limits: record bounds (the identifier cap is not applied again: the store decided the links).
  ///   - mainCookie: a cookie of the profile, to pick it when the records do not all connect.
  ///   - splitCookies: the profile's cookies that were split off (their emails are not linked).
  public init?(
    records: [StoredRecord], emails: Set<String>?, limits: RecordLimits, mainCookie: String, splitCookies: Set<String> = []
  ) {
    var unbounded = limits
    unbounded.maxIdentifiersPerProfile = .max
    var g = IdentityGraph(limits: unbounded)
    g.splitCookies = splitCookies
    g.reserve(records: records.count)
    var seqs: [UInt64] = [0]
    for (n, stored) in records.sorted(by: { $0.seq < $1.seq }).enumerated() {
      // A link the profile does not have is refused as the cap refused it (the record keeps its
      // email, as stored: export, history and the cookie's cohort show it; it was dropped, and
      // they showed none). A split cookie's link is refused by the replay itself, and says so.
      if let e = stored.record.email, let emails, !emails.contains(e), !splitCookies.contains(stored.record.cookie) {
        g.freezeCapRefusals([IdentityGraph.CapRefusal(seq: UInt64(n + 1), application: 0)])
      }
      g.apply(StoredRecord(seq: UInt64(n + 1), contentID: stored.contentID, record: stored.record))
      seqs.append(stored.seq)
    }
    guard let id = g.profileID(of: .cookie(mainCookie)) else { return nil }
    self.graph = g
    self.profileID = id
    self.storedSeqs = seqs
  }

  var profile: Profile { graph.profile(profileID)! }

  /// A cookie-scoped query's page (`query.cookie` set) over the replayed records, with cursors in
  /// stored sequence numbers, as the embedded store's: a cursor names the first record of the
  /// last cookie shown. In local numbers, records that joined or left the person between two
  /// pages (a merge, a split) moved every position, and the next page repeated or skipped
  /// cookies.
  /// - Parameters:
  ///   - query: the query.
  ///   - categories: interest categories, for `category` predicates.
  public func cohortPage(_ query: CohortQuery, categories: InterestCategories) throws(AudienceError) -> CohortPage {
    var local = query
    if let cursor = query.cursor, !cursor.isEmpty {
      let digits = cursor.utf8.dropFirst()
      guard cursor.first == "c", !digits.isEmpty, digits.allSatisfy({ (0x30...0x39).contains($0) }), let stored = UInt64(cursor.dropFirst())
      else { throw .invalidField("cursor", "\(RecordNormalizer.quote(cursor)) is not a cursor of this query") }
      // The records up to it, in local numbers (`storedSeqs` is increasing, 0 first).
      var (lo, hi) = (0, storedSeqs.count)
      while hi - lo > 1 {
        let mid = (lo + hi) / 2
        if storedSeqs[mid] <= stored { lo = mid } else { hi = mid }
      }
      local.cursor = "c\(lo)"
    }
    var page = try graph.query(local, categories: categories)
    page.nextCursor = page.nextCursor.flatMap { Int($0.dropFirst()) }.map { "c\(storedSeqs[$0])" }
    return page
  }

  /// The merged view, showing `cookie` (nil: the latest record's cookie).
  public func view(cookie: String? = nil) -> Record {
    profile.view(cookie: cookie, interestCap: graph.limits.maxInterestsPerProfile)
  }

  /// The identity summary, numbered `id`.
  public func summary(id: ProfileID) -> ProfileSummary {
    var s = graph.summary(profile)
    s.id = id
    return s
  }

  /// What filters test, for a store that pushes filters down.
  public func filterFields(categories: InterestCategories) -> FilterFields {
    let p = profile
    // Past the interest cap, the kept interests only, as the embedded index holds them.
    let cap = graph.limits.maxInterestsPerProfile
    let interests = p.interests.count > cap ? InterestCapped(p, cap: cap).foldedInterests : p.foldedInterests
    let best = interests.compactMap { categories.category(ofFolded: $0) }.min()
    let income = p.incomeText
    let numeric = income.flatMap(Filter.numericIncome)
    return FilterFields(
      age: p.ageValue, gender: p.value(.gender).map(Filter.fold), country: p.value(.country).map(Filter.fold),
      state: p.value(.state).map(Filter.fold), city: p.value(.city).map(Filter.fold),
      education: p.value(.education).map(Filter.fold), income: numeric,
      incomeExact: income.flatMap(Filter.incomeValue).flatMap { $0 == Double(numeric ?? 0) ? nil : $0 },
      incomeLabel: numeric == nil ? income.map(Filter.fold) : nil, interests: interests.sorted(),
      category: Filter.fold(best.map { categories.order[$0] } ?? categories.fallback),
      created: p.first.createdAt.seconds, seen: p.last.createdAt.seconds, inCohort: p.inCohort)
  }
}

/// A profile's values as filters compare them: strings folded (trimmed, lower-cased), income
/// split into a number or a label, the interests kept (the latest 64 by first occurrence, as
/// shown and indexed), the category.
public struct FilterFields: Hashable, Sendable {
  public var age: Int?
  public var gender: String?
  public var country: String?
  public var state: String?
  public var city: String?
  public var education: String?
  public var income: Int64?
  /// The income with its fraction, when it has one (100.9: within 100..101, not 100..100).
  public var incomeExact: Double?
  public var incomeLabel: String?
  public var interests: [String]
  public var category: String
  public var created: Int64
  public var seen: Int64
  public var inCohort: Bool

  /// The value of a string field.
  public func value(_ field: StringField) -> String? {
    switch field {
    case .gender: gender
    case .country: country
    case .state: state
    case .city: city
    case .education: education
    }
  }
}

extension IdentityGraph {
  /// Why linking a record's email would break the identifier cap, or nil when it would not.
  /// - Parameters:
  ///   - byCookie: the profile of the record's cookie and its identifier count, if known.
  ///   - byEmail: the profile of the record's email and its identifier count, if known.
  ///   - cap: most identifiers per profile.
  public static func capRefusal(
    byCookie: (id: ProfileID, size: Int)?, byEmail: (id: ProfileID, size: Int)?, cap: Int
  ) -> String? {
    switch (byCookie, byEmail) {
    case (let a?, let b?) where a.id != b.id && a.size + b.size > cap:
      return "the record's email was not linked: merging profiles \(a.id) and \(b.id) would hold \(a.size + b.size) identifiers, past the cap of \(cap)"
    case (let a?, nil) where a.size + 1 > cap:
      return "the record's email was not linked: profile \(a.id) already holds \(a.size) identifiers (cap \(cap))"
    case (nil, let b?) where b.size + 1 > cap:
      return "the record's cookie was not linked to its email: profile \(b.id) already holds \(b.size) identifiers (cap \(cap))"
    default:
      return nil
    }
  }
}
