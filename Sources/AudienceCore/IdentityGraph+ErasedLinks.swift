/// Links refused for good. A record whose email link the identifier cap refused stays in its
/// cookie's profile without the email. Once a profile is erased, the records are applied again
/// without its records (a replay after a crash, a split rebuilding a profile, a history), and the
/// cap, decided on smaller profiles, may no longer refuse: the record would link the email, its
/// profile would gain it, and later records carrying it would join that profile. So an erasure
/// keeps every refusal made before it (`keepRefusals`; the embedded store keeps them in its
/// database too), and applying such a record refuses its email again, whatever the graph holds
/// by then. Refusals made after the erasure are decided on the same graph live and in a replay.
extension IdentityGraph {
  /// Records outside the profile whose email is not linked to their own profile (a link the cap
  /// refused; a split cookie's are left to its split), and whose refusal is not kept yet, oldest
  /// first. All of them, not only those carrying one of the profile's emails: without its records
  /// a replay decides the cap on smaller profiles, so any refusal made before the erasure could
  /// become a link (an email a split has since moved out of the profile, for one).
  /// - Parameters:
  ///   - id: a live profile, about to be erased.
  public func refusedLinks(excluding id: ProfileID) -> [UInt64] {
    guard id >= 0, id < profiles.count, let p = profiles[id] else { return [] }
    let mine = Set(p.cookies)
    func refused(_ seq: UInt64) -> Bool {
      guard let r = record(seq), let e = r.email, !mine.contains(r.cookie), !keptRefusals.contains(seq) else { return false }
      // A split cookie's records are refused from the split on, which a replay applies where it
      // happened: kept, they would be refused before it too, and the split would find another
      // profile to split.
      guard !splitCookies.contains(r.cookie) else { return false }
      guard let own = cookies[r.cookie]?.profile else { return false }
      return emails[e]?.profile != own
    }
    if let capRefused { return capRefused.filter(refused).sorted() }
    return (0..<UInt64(records.count)).filter(refused)
  }

  /// Notes a cap refusal of the record applied as `seq` (for `refusedLinks(excluding:)`).
  mutating func noteCapRefusal(_ refusal: String?, _ seq: UInt64) -> String? {
    if refusal != nil { capRefused?.insert(seq) }
    return refusal
  }

  /// Keeps these records' email links refused from now on (see the extension's comment).
  /// - Parameters:
  ///   - seqs: records from `refusedLinks(excluding:)` of a profile erased since. Every refusal
  ///     made so far is then kept (or a split's), so only later ones are noted from now on.
  public mutating func keepRefusals(_ seqs: some Sequence<UInt64>) {
    keptRefusals.formUnion(seqs)
    capRefused = []
  }

  /// The refusals a store kept (at start, before a replay or after a restore).
  public mutating func restoreKeptRefusals(_ seqs: some Sequence<UInt64>) { keptRefusals.formUnion(seqs) }

  /// Why this record's email is not linked because its refusal was kept, or nil.
  func keptRefusal(_ r: Record, seq: UInt64) -> String? {
    guard r.email != nil, !keptRefusals.isEmpty, keptRefusals.contains(seq) else { return nil }
    return Self.keptRefusal
  }

  /// The outcome message of a record whose refusal was kept.
  public static let keptRefusal =
    "the record's email was not linked: the link was refused when the record was stored, and stays refused since a profile was forgotten"
}
