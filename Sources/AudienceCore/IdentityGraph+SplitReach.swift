/// Which records a split that stays applies again in a replay after a forget that erased other
/// records it had applied again (ProfileCreationLog.writeCreators): a record that only erased
/// records joined to the split cookie's profile is its own profile's by then, and the split no
/// longer rebuilds it.
extension IdentityGraph {
  /// The cookie and email of each record asked for (nil for one not stored).
  public func identifiers(of seqs: [UInt64]) -> [(cookie: String, email: String?)?] {
    seqs.map { seq in record(seq).map { ($0.cookie, $0.email) } }
  }

  /// Every record of the live profiles that hold any of `seqs` (records not stored hold none),
  /// in increasing order.
  public func profileRecords(holding seqs: [UInt64]) -> [UInt64] {
    let ids = Set(seqs.compactMap { record($0).flatMap { cookies[$0.cookie]?.profile } })
    return ids.flatMap { recordSeqs(of: $0) }.sorted()
  }

  /// The records of `records` joined to `cookie`'s by their cookies and emails (an email of a
  /// record whose cookie is in `unlinked`, split off before, joins nothing): the profile the
  /// split finds in a replay, or more of it where the identifier cap refuses a link there.
  /// - Parameters:
  ///   - cookie: the split's cookie.
  ///   - records: the records the split applied again live that are still stored.
  ///   - unlinked: the cookies of the splits before it that stay.
  public static func splitReach(
    cookie: String, records: [(seq: UInt64, cookie: String, email: String?)], unlinked: Set<String>
  ) -> Set<UInt64> {
    var byCookie: [String: [Int]] = [:]
    var byEmail: [String: [Int]] = [:]
    for (i, r) in records.enumerated() {
      byCookie[r.cookie, default: []].append(i)
      if let e = r.email, !unlinked.contains(r.cookie) { byEmail[e, default: []].append(i) }
    }
    var reached = Set<Int>()
    var queue = byCookie[cookie] ?? []
    reached.formUnion(queue)
    var seenCookies: Set<String> = [cookie]
    var seenEmails = Set<String>()
    while let i = queue.popLast() {
      let r = records[i]
      var next: [Int] = []
      if seenCookies.insert(r.cookie).inserted { next += byCookie[r.cookie] ?? [] }
      if let e = r.email, !unlinked.contains(r.cookie), seenEmails.insert(e).inserted { next += byEmail[e] ?? [] }
      for j in next where reached.insert(j).inserted { queue.append(j) }
    }
    return Set(reached.map { records[$0].seq })
  }
}
