/// A record as stored: normalized, with its ingest sequence number and content identity.
public struct StoredRecord: Hashable, Sendable {
  /// Ingest sequence number, increasing, assigned by the store.
  public var seq: UInt64
  public var contentID: ContentID
  /// `createdAt` is always set (the store assigns the ingest time when a record has none).
  public var record: Record

  /// - Parameters:
  ///   - seq: ingest sequence number.
  ///   - contentID: identity of the record's content as sent.
  ///   - record: the normalized record, with `createdAt` set.
  public init(seq: UInt64, contentID: ContentID, record: Record) {
    self.seq = seq
    self.contentID = contentID
    self.record = record
  }

  var key: RecordKey { RecordKey(createdAt: record.createdAt ?? Timestamp(seconds: 0), seq: seq) }
}

/// What ingesting one record did.
public enum IngestOutcome: Hashable, Sendable {
  case created(ProfileID)
  case updated(ProfileID)
  /// The record linked profiles; `absorbed` were merged into the surviving (oldest) profile.
  case merged(ProfileID, absorbed: [ProfileID])
  /// The identical record was stored before; nothing changed.
  case duplicate(ProfileID)
  /// Stored in the profile, but the link it carried was refused (identifier cap); `reason` says which.
  case capped(ProfileID, reason: String)
  /// The record was invalid and not stored.
  case rejected(AudienceError)
}

/// The identity graph: cookies and emails linked by records, one profile per connected
/// component. Pure and deterministic: applying the same records in the same sequence
/// always gives the same profiles, which is how the embedded store rebuilds it at start-up.
public struct IdentityGraph: Sendable {
  struct CookieInfo: Sendable {
    var profile: ProfileID
    let firstSeq: UInt64
    var latest: RecordKey
    var emails: IdentifierList

    mutating func link(key: RecordKey, email: String?) {
      latest = max(latest, key)
      if let email, !emails.contains(email) { emails.append(email) }
    }
  }

  struct EmailInfo: Sendable {
    var profile: ProfileID
    var cookies: IdentifierList

    /// Adds a cookie; true when it made this email repeated (its second cookie).
    mutating func link(cookie: String) -> Bool {
      guard !cookies.contains(cookie) else { return false }
      cookies.append(cookie)
      return cookies.count == 2
    }
  }

  public let limits: RecordLimits
  /// Indexed by `ProfileID`; nil where a profile was merged away.
  var profiles = SlotArray<Profile?>()
  var cookies = IdentifierTable<CookieInfo>()
  var emails = IdentifierTable<EmailInfo>()
  /// Per profile id: changes whenever the profile does (a new record, a merge into it), to a
  /// value no profile of this process had before, so readers may keep encodings of a view under
  /// its `ProfileStamp`. Apart from the profiles: reading a stamp must not touch (or copy) one.
  var revisions = SlotArray<UInt64>()
  /// Indexed by sequence number (dense: the store numbers records 1, 2, 3...).
  var records = SlotArray<Record?>()
  /// Each cookie's records, chained, and each record's content id (`recordSeqs(of:)`, `forget`).
  var recordLinks = RecordLinks()
  /// False while a graph restored from a snapshot waits for its raw records (`installRecords`):
  /// until then only what reads profiles, identifiers and the index may run (GetUser, queries
  /// without a cookie, counts, analytics), not what reads or adds raw records (writes, duplicate
  /// checks, cookie-scoped queries, export, history, forget, split, a new snapshot).
  public internal(set) var rawRecordsLoaded = true
  var contentIDs = DenseTable<ContentID, UInt64>()
  /// Cookies split off by `split(cookie:)`: their records never link their emails.
  public internal(set) var splitCookies: Set<String> = []
  /// The application records are being applied in: 0 when stored, a split's number while the
  /// split applies its profile's records again (IdentityGraph+CapRefusals.swift).
  var application: UInt64 = 0
  /// Cap refusals not yet handed to the store (`takeCapRefusals`).
  var pendingCapRefusals: [CapRefusal] = []
  /// During a replay: the refusals made when the records were first applied.
  var frozenCapRefusals: Set<CapRefusal> = []
  /// During a replay: links made live that are made again past the cap (`freezeCapLinks`).
  var frozenCapLinks: Set<CapRefusal> = []
  /// The columnar index of live profiles, updated with every applied record.
  var index = SegmentIndex()
  /// Bytes held by the segment index.
  public var indexMemoryBytes: Int { index.memoryBytes }
  /// Number of live profiles.
  public internal(set) var profileCount = 0
  /// Number of emails seen with two or more cookies.
  public internal(set) var repeatedEmailCount = 0
  public internal(set) var recordCount = 0
  /// The highest sequence number applied.
  public internal(set) var lastSeq: UInt64 = 0
  /// While a writer indexes elsewhere (`detachIndex`): the index changes, in order, not yet handed over.
  var indexChanges: [IndexChange]?
  /// A replay of stored records is running (`beginReplay`): the segment index is built once at
  /// the end instead of record by record, and records are not checked for duplicates (the store
  /// holds each content once).
  var replaying = false
  /// Profile creations not yet handed to the store (`takeProfileCreations`): each record that
  /// created a profile and the id it got, as pairs (seq, id). See IdentityGraph+ProfileIDs.swift.
  var pendingCreations: [UInt64] = []
  /// During a replay: the id the next record applied got when it was first stored, if it
  /// created a profile then (`hintCreation`).
  var creationHint: ProfileID?
  /// During a replay: where ids for creations no log names start, and for records from which seq
  /// (`replayFreshIDs(from:forRecordsFrom:)`).
  var freshIDs = 0
  var freshFromSeq = UInt64.max
  /// During a replay: the last record whose creation, if it made one, the log names (the records
  /// after it were the last commit's before a crash: they make profiles with the ids they had
  /// live, in order from `freshIDs`); nil where the database does not say (an older build's).
  var loggedThrough: UInt64?
  /// During a replay: the next id for a creation of the last commit's records.
  var nextFreshID = 0
  /// During a replay: where ids for creations only the replay makes start (a record whose
  /// profile-maker a forget erased makes one now, which a later record merges or a split takes
  /// apart): past those the last commit's records take, so as not to push theirs.
  var replayOnlyIDs = 0
  /// A split is re-applying a profile's records: the profiles it makes are logged as made by a
  /// split (`splitMade`), and in a replay take the ids `splitHints` give.
  var splitting = false
  /// During a replay: per record and split (`application`; 0 where the log does not say, as in
  /// logs of older builds), the ids splits gave the profiles it made, oldest first.
  var splitHints: [SplitHintKey: [ProfileID]] = [:]

  /// - Parameters:
  ///   - limits: record and profile bounds.
  public init(limits: RecordLimits = .default) { self.limits = limits }

  /// Makes room for about `count` more records (and as many profiles, cookies and emails), so a
  /// replay at start-up does not grow its tables step by step.
  /// - Parameters:
  ///   - count: records about to be applied.
  public mutating func reserve(records count: Int) {
    records.reserveCapacity(records.count + count + 1)
    recordLinks.reserveCapacity(records.count + count + 1)
    profiles.reserveCapacity(profiles.count + count)
    cookies.reserveCapacity(cookies.count + count)
    emails.reserveCapacity(emails.count + count)
    contentIDs.reserveCapacity(contentIDs.count + count)
  }

  /// Makes the next sequence number at least `seq + 1` (a store that recorded an event at `seq`
  /// whose records were erased since, such as a split, keeps later records after it).
  public mutating func advanceSequence(to seq: UInt64) { lastSeq = max(lastSeq, seq) }

  /// Starts replaying stored records (start-up): cheaper, and the index is not usable until
  /// `finishReplay()`.
  public mutating func beginReplay() { replaying = true }

  /// Ends a replay: builds the segment index from the live profiles.
  public mutating func finishReplay() {
    guard replaying else { return }
    replaying = false
    frozenCapRefusals = []
    frozenCapLinks = []
    index = SegmentIndex()
    index.deferPostings()
    for case let p? in profiles { index.update(p, interestCap: limits.maxInterestsPerProfile) }
    index.syncPostings()
  }

  /// The record with this sequence number.
  func record(_ seq: UInt64) -> Record? { seq < UInt64(records.count) ? records[Int(seq)] : nil }

  /// Whether a record with this content was applied before, and to which profile it went.
  /// - Parameters:
  ///   - id: the content identity.
  public func duplicateProfile(of id: ContentID) -> ProfileID? {
    guard let seq = contentIDs[id], let r = record(seq) else { return nil }
    return cookies[r.cookie]?.profile
  }

  /// The outcome of a record whose content id was claimed before (`claim(_:seq:)` said false):
  /// a duplicate of the profile holding the stored record. Should that record or its profile be
  /// gone (it cannot: a forget erases the content ids with the records), an internal error
  /// rather than a duplicate of some other profile.
  /// - Parameters:
  ///   - id: the content identity.
  public func duplicateOutcome(of id: ContentID) -> IngestOutcome {
    if let profile = duplicateProfile(of: id) { return .duplicate(profile) }
    return .rejected(AudienceError(.internal, "the record duplicates a stored record whose profile is gone"))
  }

  /// Takes a content id for a record about to be applied under `seq`, with one lookup for the
  /// check and the insertion: true when it is new (a later record of the same content is then
  /// a duplicate, in this commit too), false when a record already has it. The caller applies
  /// each claimed record with `applyNew(_:seq:)` before the graph is read, or rebuilds the graph.
  /// - Parameters:
  ///   - id: the content identity.
  ///   - seq: the sequence number the record will get.
  public mutating func claim(_ id: ContentID, seq: UInt64) -> Bool { claim(id, hash: id.tableHash, seq: seq) }

  /// Applies one stored record: links its cookie and email, merges profiles it connects,
  /// and folds its fields into the profile.
  /// - Parameters:
  ///   - stored: the record; its `seq` must be above every applied one.
  ///   - knownNew: the caller checked `duplicateProfile(of:)` since the last apply (the store's
  ///     writer does, before it writes), so the check is not repeated.
  @discardableResult
  public mutating func apply(_ stored: consuming StoredRecord, knownNew: Bool = false) -> IngestOutcome {
    if !replaying, !knownNew, let existing = duplicateProfile(of: stored.contentID) { return .duplicate(existing) }
    contentIDs[stored.contentID] = stored.seq
    recordLinks.setContentID(stored.contentID, of: stored.seq)
    return applyNew(stored.record, seq: stored.seq)
  }

  /// Applies a record whose content id was claimed for it (`claim(_:seq:)`, or recorded by
  /// `apply`), moved in: its strings are not copied.
  /// - Parameters:
  ///   - record: the normalized record, `createdAt` set.
  ///   - seq: its sequence number, above every applied one.
  ///   - hashes: `LookupHashes(record)`, when the caller took them before (to prefetch).
  public mutating func applyNew(_ record: consuming Record, seq: UInt64, hashes: LookupHashes? = nil) -> IngestOutcome {
    let key = RecordKey(createdAt: record.createdAt ?? Timestamp(seconds: 0), seq: seq)
    lastSeq = max(lastSeq, seq)
    // The record is read in place (no copy of its strings) and moved into `records` at the end.
    // Each identifier is hashed once, for its lookup and its insertion.
    let hashes = hashes ?? LookupHashes(record)
    let cookieID = Identifier(record.cookie, hash: hashes.cookie)
    // Read in place through `update` (nothing changes): the subscript's getter copies the whole
    // entry, retaining and releasing each identifier it lists.
    let knownCookie = cookies.update(cookieID) { ($0.profile, $0.firstSeq) }
    let byCookie = knownCookie?.0
    var email = record.email.map { Identifier($0, hash: hashes.email ?? Identifier.hash($0)) }
    var byEmail = email.flatMap { e in emails.update(e) { $0.profile } }
    // The identifier cap: a link that would take a profile past it is refused, and the record
    // joins by its cookie alone (deterministic, so a replay decides the same).
    let refusal =
      splitRefusal(record) ?? blockedRefusal(record) ?? frozenCapRefusal(record, seq: seq)
      ?? (frozenCapLink(seq: seq) ? nil : noteCapRefusal(capRefusal(record, byCookie, byEmail), seq))
    if refusal != nil {
      email = nil
      byEmail = nil
    }
    var outcome: IngestOutcome
    let target: ProfileID
    switch (byCookie, byEmail) {
    case (nil, nil):
      target = newProfileID(seq: seq)
      // Appended, not a nil slot appended and then set: each way through a slot copied the
      // profile value (305 bytes) two or three times.
      if target == profiles.count {
        profiles.append(Profile(id: target, key: key, cookie: record.cookie))
      } else {
        profiles[target] = Profile(id: target, key: key, cookie: record.cookie)
      }
      profileCount += 1
      outcome = .created(target)
    case (let a?, nil), (nil, let a?):
      target = a
      outcome = .updated(a)
    case (let a?, let b?) where a == b:
      target = a
      outcome = .updated(a)
    case (let a?, let b?):
      target = min(a, b)
      merge(max(a, b), into: target)
      outcome = .merged(target, absorbed: [max(a, b)])
    }
    link(cookie: cookieID, email: email, key: key, profile: target, cookieKnown: byCookie != nil, emailKnown: byEmail != nil)
    profiles[target]!.absorb(record, email: email?.string, key: key)
    if target >= revisions.count { revisions.append(contentsOf: repeatElement(0, count: target + 1 - revisions.count)) }
    revisions[target] = ProfileStamp.nextRevision()
    if !replaying { changeIndex(updating: target) }
    if let refusal { outcome = .capped(target, reason: refusal) }
    recordCount += 1
    recordLinks.add(seq, first: knownCookie?.1 ?? seq)
    let slot = Int(seq)
    while records.count < slot { records.append(nil) }
    if slot == records.count { records.append(consume record) } else { records[slot] = consume record }
    return outcome
  }

  /// Why linking this record's email would break the identifier cap, or nil when it would not.
  // Inlined: called from `applyNew` (mutating), a call copied the whole graph value (512
  // bytes) to pass it as `self`, once per record.
  @inline(__always)
  private func capRefusal(_ r: Record, _ byCookie: ProfileID?, _ byEmail: ProfileID?) -> String? {
    guard r.email != nil else { return nil }
    func sized(_ id: ProfileID?) -> (id: ProfileID, size: Int)? {
      // Fields read in place (mapping the optional profile would copy all of it).
      id.map { id in (id, (profiles[id]?.cookies.count ?? 0) + (profiles[id]?.emails.count ?? 0)) }
    }
    return Self.capRefusal(byCookie: sized(byCookie), byEmail: sized(byEmail), cap: limits.maxIdentifiersPerProfile)
  }

  /// - Parameters:
  ///   - email: the record's email, nil when it has none or its link was refused.
  ///   - cookieKnown: the cookie is in `cookies` (the caller looked it up: a new one is inserted
  ///     without a second lookup).
  ///   - emailKnown: the email is in `emails`.
  private mutating func link(
    cookie: Identifier, email: Identifier?, key: RecordKey, profile: ProfileID, cookieKnown: Bool, emailKnown: Bool
  ) {
    // Through `update` and `insertIfAbsent`, not the tables' subscripts (DenseTable.swift).
    if cookieKnown {
      let linked: Void? = cookies.update(cookie, hash: cookie.hash) { $0.link(key: key, email: email?.string) }
      assert(linked != nil, "IdentityGraph: a known cookie is not in the table")
    } else {
      let info = CookieInfo(profile: profile, firstSeq: key.seq, latest: key, emails: email.map { IdentifierList($0.string) } ?? IdentifierList())
      let added = cookies.insertIfAbsent(cookie, hash: cookie.hash, info)
      assert(added, "IdentityGraph: a new cookie is in the table already")
      profiles[profile]!.cookies.append(cookie.string)
    }
    guard let e = email else { return }
    if !emailKnown {
      let added = emails.insertIfAbsent(e, hash: e.hash, EmailInfo(profile: profile, cookies: IdentifierList(cookie.string)))
      assert(added, "IdentityGraph: a new email is in the table already")
      profiles[profile]!.emails.append(e.string)
    } else if emails.update(e, hash: e.hash, { $0.link(cookie: cookie.string) }) == true {
      repeatedEmailCount += 1
      profiles[profile]!.inCohort = true
    }
  }

  private mutating func merge(_ absorbed: ProfileID, into survivor: ProfileID) {
    let gone = profiles[absorbed]!
    for c in gone.cookies {
      let moved: Void? = cookies.update(Identifier(c)) { $0.profile = survivor }
      assert(moved != nil, "IdentityGraph: a profile's cookie is not in the table")
    }
    for e in gone.emails {
      let moved: Void? = emails.update(Identifier(e)) { $0.profile = survivor }
      assert(moved != nil, "IdentityGraph: a profile's email is not in the table")
    }
    profiles[survivor]!.absorb(gone)
    profiles[absorbed] = nil
    if !replaying { changeIndex(removing: absorbed) }
    profileCount -= 1
    if replaying, loggedThrough != nil { releaseReplayOnlyID(absorbed) }
  }
}
