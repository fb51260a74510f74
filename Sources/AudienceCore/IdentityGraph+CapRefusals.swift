/// Cap decisions, replayed as they were made. The identifier cap refuses a record's email link
/// depending on the profiles' sizes at that moment. A replay after a crash applies the same
/// records in the same order, so it decides the same, unless a forget erased records since:
/// without them the profiles are smaller, and a link refused then would now be made (the record's
/// profile would gain the email, and later records carrying it would join that profile).
///
/// So every refusal is noted where it was made: the record's sequence number and the
/// application it was refused in (0 when the record was stored, a split's number when the split
/// applied the record again). The store logs them (`takeCapRefusals`), and a replay refuses those
/// links again (`freezeCapRefusals`). Links are decided afresh: with every refusal as it was, the
/// replayed profiles are never larger than the live ones were (only erased records are
/// missing), so a link made live is made in the replay too. Except after a forget that erased a
/// split: the live graph keeps that split's rebuild, which a replay makes nowhere, so the forget
/// moves its decisions to where a replay applies the records, and logs the links of the
/// profiles it rebuilt, which a replay makes past the cap (`freezeCapLinks`).
extension IdentityGraph {
  /// A record's application: 0 when it was stored, else the split that applied it again.
  public struct CapRefusal: Hashable, Sendable {
    public var seq: UInt64
    public var application: UInt64

    public init(seq: UInt64, application: UInt64) {
      self.seq = seq
      self.application = application
    }
  }

  /// The refusals made since the last call, in order (the store logs them).
  public mutating func takeCapRefusals() -> [CapRefusal] {
    defer { pendingCapRefusals = [] }
    return pendingCapRefusals
  }

  /// Puts back refusals taken for a write that failed, before any noted since.
  public mutating func restoreCapRefusals(_ refusals: [CapRefusal]) { pendingCapRefusals = refusals + pendingCapRefusals }

  /// In a replay: these links are refused, as they were decided live (until `finishReplay`).
  public mutating func freezeCapRefusals(_ refusals: some Sequence<CapRefusal>) { frozenCapRefusals.formUnion(refusals) }

  /// In a replay: these links are made whatever the cap says (until `finishReplay`). A forget
  /// that erases a split logs them: the split's rebuild decided its records' links, and a replay
  /// without the split applies them where they came, when the profiles they join may be larger
  /// than they were live (EmbeddedStore's `CapRefusalLog.erase`).
  public mutating func freezeCapLinks(_ links: some Sequence<CapRefusal>) { frozenCapLinks.formUnion(links) }

  /// In a replay: whether this record's link, in the application running, was made live and is
  /// made again without asking the cap.
  @inline(__always)
  func frozenCapLink(seq: UInt64) -> Bool {
    !frozenCapLinks.isEmpty && frozenCapLinks.contains(CapRefusal(seq: seq, application: application))
  }

  /// A refusal decided afresh, noted for the log.
  mutating func noteCapRefusal(_ refusal: String?, _ seq: UInt64) -> String? {
    if refusal != nil { pendingCapRefusals.append(CapRefusal(seq: seq, application: application)) }
    return refusal
  }

  /// In a replay: the message of a link refused when it was first decided, or nil.
  // Inlined: called from `applyNew` (mutating), a call copied the whole graph value (512
  // bytes) to pass it as `self`, once per record.
  @inline(__always)
  func frozenCapRefusal(_ r: Record, seq: UInt64) -> String? {
    guard r.email != nil, !frozenCapRefusals.isEmpty,
      frozenCapRefusals.contains(CapRefusal(seq: seq, application: application))
    else { return nil }
    return Self.frozenCapRefusal
  }

  /// The outcome message of a replayed refusal.
  public static let frozenCapRefusal = "the record's email was not linked: the identifier cap refused the link when it was stored"
}
