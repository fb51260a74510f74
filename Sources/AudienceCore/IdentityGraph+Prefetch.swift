/// The leader's look-ahead: a commit takes each record's hashes before it applies the record
/// (on the threads that validate), and starts fetching the table buckets a record will look up
/// a few records before it is applied. In tables of a million identifiers each lookup's first
/// read is a cache miss; fetched ahead, the records applied meanwhile hide it.
extension IdentityGraph {
  /// `claim(_:seq:)` with the id's `tableHash` taken before (for `prefetchClaim(hash:)`).
  public mutating func claim(_ id: ContentID, hash: Int, seq: UInt64) -> Bool {
    guard contentIDs.insertIfAbsent(id, hash: hash, seq) else { return false }
    recordLinks.setContentID(id, of: seq)
    return true
  }

  /// Starts fetching what `claim(_:hash:seq:)` of a content id with this `tableHash` will read,
  /// a few claims ahead of it (a cache miss each, in a table of a million).
  ///
  /// `mutating` though it changes nothing: the leader calls it on the graph it holds `inout`, and
  /// a non-mutating call from there copied the whole graph value (512 bytes) to pass it as
  /// `self`, per record (the same for `prefetch(_:)`).
  public mutating func prefetchClaim(hash: Int) { contentIDs.prefetch(hash: hash) }

  /// The hashes a record's identifier lookups take, taken ahead of `applyNew(_:seq:hashes:)` so
  /// that `prefetch(_:)` can start fetching what those lookups read.
  public struct LookupHashes: Sendable {
    let cookie: Int
    let email: Int?

    /// - Parameters:
    ///   - record: the normalized record about to be applied.
    public init(_ record: borrowing Record) {
      cookie = Identifier.hash(record.cookie)
      email = record.email.map(Identifier.hash)
    }
  }

  /// Starts fetching the table buckets a record with these hashes looks up: each is a cache miss
  /// in tables of a million identifiers, hidden by the records applied meanwhile.
  /// `mutating` for the reason `prefetchClaim(hash:)` is.
  public mutating func prefetch(_ hashes: LookupHashes) {
    cookies.prefetch(hash: hashes.cookie)
    if let email = hashes.email { emails.prefetch(hash: email) }
  }
}
