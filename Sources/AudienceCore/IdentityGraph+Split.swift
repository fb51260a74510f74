/// What splitting a cookie off its profile did.
public struct SplitResult: Hashable, Sendable {
  /// The profile the cookie was in; it no longer exists.
  public var from: ProfileID
  /// The profiles its records form now: the split cookie's own first, then what remained of
  /// the old profile (more than one when the cookie was what held it together).
  public var profiles: [ProfileID]

  public init(from: ProfileID, profiles: [ProfileID]) {
    self.from = from
    self.profiles = profiles
  }
}

extension IdentityGraph {
  /// Detaches a wrongly merged cookie (a shared device, a test account) into a profile of its own.
  ///
  /// From now on the cookie's records do not link their emails (as a link the identifier cap
  /// refuses), so the cookie stays apart whatever arrives later. The profile it was in is rebuilt
  /// from its records in their original order, with that rule: the rest stays one profile when
  /// other links hold it together, and falls apart where only the split cookie joined it.
  /// - Parameters:
  ///   - cookie: the cookie to detach.
  ///   - application: the split's number, for the cap refusals its rebuild makes (the embedded
  ///     store's `splits` row; IdentityGraph+CapRefusals.swift).
  ///   - known: the profile's records when the caller already has them (`recordSeqs(of:)`).
  /// - Returns: what it did (for a cookie split before: its own profile, unchanged), or nil when
  ///   the cookie is unknown (it is still split from now on).
  @discardableResult
  public mutating func split(cookie: String, application: UInt64 = 0, records known: [UInt64]? = nil) -> SplitResult? {
    guard let old = cookies[cookie]?.profile else {
      splitCookies.insert(cookie)
      return nil
    }
    // Split before: it stands alone already.
    if splitCookies.contains(cookie) { return SplitResult(from: old, profiles: [old]) }
    let seqs = known ?? recordSeqs(of: old)
    let stored = seqs.compactMap { seq in
      record(seq).flatMap { r in recordLinks.contentID(of: seq).map { StoredRecord(seq: seq, contentID: $0, record: r) } }
    }
    let members = profiles[old]!.cookies
    forget(old, records: seqs)
    releaseReplayOnlyID(old)
    splitCookies.insert(cookie)
    splitting = true
    self.application = application
    for r in stored { apply(r) }
    self.application = 0
    splitting = false
    let own = cookies[cookie]!.profile
    var formed: [ProfileID] = []
    for c in members {
      if let id = cookies[c]?.profile, id != own, !formed.contains(id) { formed.append(id) }
    }
    return SplitResult(from: old, profiles: [own] + formed.sorted())
  }

  /// In a replay: gives back the id of a profile the split just took apart, or a merge just
  /// absorbed, when only this replay made it, with the last id taken, by a record no log names.
  /// That happens when the record that made the profile live was erased since (a forget of the
  /// rest of a split profile, or of the person a record had joined): the next of the profile's
  /// records made it now, and the split takes it apart, or a later record joins it to a profile
  /// it had joined live. Its id was never anyone's; kept, it pushed the next unlogged creation
  /// (the last commit before a crash) one id higher than it had.
  mutating func releaseReplayOnlyID(_ id: ProfileID) {
    // Only a fresh id (`newProfileID`): records from before the log began are numbered in
    // creation order, as they were live, where the profile existed.
    guard replaying, id == profiles.count - 1, id >= freshIDs, profiles[id] == nil, pendingCreations.count >= 2,
      pendingCreations[pendingCreations.count - 1] == UInt64(id)
    else { return }
    let seq = Self.loggedSeq(pendingCreations[pendingCreations.count - 2])
    // Not one of the last commit's either (they had the id live: none the log names came after).
    guard seq >= freshFromSeq, loggedThrough.map({ seq <= $0 }) ?? true else { return }
    pendingCreations.removeLast(2)
    _ = profiles.removeLast()
    if revisions.count > id { revisions.removeSubrange(id...) }
  }

  /// Why a record's email is not linked because its cookie was split off, or nil.
  // Inlined: called from `applyNew` (mutating), a call copied the whole graph value (512
  // bytes) to pass it as `self`, once per record.
  @inline(__always)
  func splitRefusal(_ r: Record) -> String? {
    guard r.email != nil, splitCookies.contains(r.cookie) else { return nil }
    return Self.splitRefusal(cookie: r.cookie)
  }

  /// Why a stored record's email is not linked because it is on `--blocked-identifiers` now (it
  /// was not when the record came: the list changed since), or nil. Only where stored records
  /// are applied again (a replay, a split): the normalizer drops a blocked email from a record
  /// that arrives. So a shared placeholder blocked after the fact no longer joins the people it
  /// had joined, as on a restart with another identifier cap.
  @inline(__always)
  func blockedRefusal(_ r: Record) -> String? {
    guard replaying || splitting, let email = r.email, !limits.blockedIdentifiers.isEmpty,
      limits.blockedIdentifiers.contains(email)
    else { return nil }
    return Self.blockedRefusal
  }

  /// The outcome message of a stored record whose email is blocked now.
  public static let blockedRefusal = "the record's email was not linked: it is on --blocked-identifiers"

  /// The outcome message of a record whose cookie was split off (its email is not linked).
  public static func splitRefusal(cookie: String) -> String {
    "the record's email was not linked: cookie \(cookie) was split off its profile (audience split)"
  }

  /// The people the graph's profiles are: each one's cookies and emails, in the order of `cookies`.
  /// - Parameters:
  ///   - cookies: cookies of the graph (a replay's).
  public func components(of cookies: [String]) -> [(cookies: [String], emails: [String])] {
    var order: [ProfileID] = []
    for c in cookies { if let id = self.cookies[c]?.profile, !order.contains(id) { order.append(id) } }
    return order.compactMap { profiles[$0].map { ($0.cookies.array, $0.emails.array) } }
  }
}
