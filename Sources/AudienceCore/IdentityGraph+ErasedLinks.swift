/// Links refused for good. A record whose email link was refused (the identifier cap, a split
/// cookie) stays in its cookie's profile; the email belongs to another profile. When that profile
/// is erased, the record still carries the email, and applied again without the erased records
/// (a replay after a crash, a split rebuilding its profile, a history) it would now link it:
/// the profile would gain the email, and later records carrying it would join it. So the erasure
/// keeps those refusals (`keepRefusals`; the embedded store keeps them in its database too), and
/// applying such a record refuses its email again, whatever the graph holds by then.
extension IdentityGraph {
  /// Records outside the profile that carry one of its emails: every one had its link refused
  /// (a record that linked it is in the profile), oldest first.
  /// - Parameters:
  ///   - id: a live profile, about to be erased.
  public func refusedLinks(to id: ProfileID) -> [UInt64] {
    guard id >= 0, id < profiles.count, let p = profiles[id], !p.emails.isEmpty else { return [] }
    let mine = Set(p.cookies)
    let emails = Set(p.emails)
    var out: [UInt64] = []
    for (slot, r) in records.enumerated() {
      guard let r, let e = r.email, emails.contains(e), !mine.contains(r.cookie) else { continue }
      out.append(UInt64(slot))
    }
    return out
  }

  /// Keeps these records' email links refused from now on (see the extension's comment).
  /// - Parameters:
  ///   - seqs: records from `refusedLinks(to:)` of a profile erased since.
  public mutating func keepRefusals(_ seqs: some Sequence<UInt64>) { keptRefusals.formUnion(seqs) }

  /// Why this record's email is not linked because its refusal was kept, or nil.
  func keptRefusal(_ r: Record, seq: UInt64) -> String? {
    guard r.email != nil, !keptRefusals.isEmpty, keptRefusals.contains(seq) else { return nil }
    return Self.keptRefusal
  }

  /// The outcome message of a record whose refusal was kept.
  public static let keptRefusal =
    "the record's email was not linked: its link was refused when it was stored, and the profile that held the email was erased"
}
