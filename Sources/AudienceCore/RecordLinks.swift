/// What finds a person's stored records and their content ids without reading every record:
/// each cookie's records, chained (every record links to the record before it with the same
/// cookie, and a cookie's first record also holds the cookie's last), and each record's content
/// id. A forget, split, export or history of one person takes time in proportion to their
/// records; before, each read every stored record and content id under the graph's lock (120 ms
/// at 1,000,000 records, docs/BENCHMARKS.md).
///
/// A cookie's first record is `IdentityGraph.CookieInfo.firstSeq`: records are applied in
/// sequence order, a forget erases every record of a cookie, and a split applies a cookie's
/// records again in order after erasing the cookie.
struct RecordLinks: Sendable {
  /// No record.
  static let end = UInt64.max

  struct Link: Sendable {
    /// The record before it with the same cookie, or `end`.
    var previous = RecordLinks.end
    /// At a cookie's first record: the cookie's last record (elsewhere `end`).
    var last = RecordLinks.end
    /// The record's content id (both halves 0 until it is known).
    var contentHigh: UInt64 = 0
    var contentLow: UInt64 = 0
  }

  /// Indexed by sequence number.
  private var links = SlotArray<Link>()

  init() {}

  /// The links of stored records, indexed by sequence number, and their content ids (a
  /// snapshot's, restored).
  init(records: SlotArray<Record?>, contentIDs: DenseTable<ContentID, UInt64>) {
    links.reserveCapacity(records.count)
    var first: [String: UInt64] = [:]
    first.reserveCapacity(records.count)
    for (slot, r) in records.enumerated() {
      links.append(Link())
      guard let r else { continue }
      let seq = UInt64(slot)
      let head = first[r.cookie] ?? seq
      if head == seq { first[r.cookie] = seq }
      add(seq, first: head)
    }
    for (id, seq) in contentIDs { setContentID(id, of: seq) }
  }

  mutating func reserveCapacity(_ minimum: Int) { links.reserveCapacity(minimum) }

  private mutating func grow(to seq: UInt64) -> Int {
    let slot = Int(seq)
    while links.count <= slot { links.append(Link()) }
    return slot
  }

  /// Chains the record `seq`, of a cookie whose first record is `first` (`seq` itself for the
  /// cookie's first), after the cookie's last.
  mutating func add(_ seq: UInt64, first: UInt64) {
    let slot = grow(to: seq)
    guard first != seq else {
      links[slot].previous = Self.end
      links[slot].last = seq
      return
    }
    let head = Int(first)
    links[slot].previous = links[head].last
    links[slot].last = Self.end
    links[head].last = seq
  }

  /// Notes the record `seq`'s content id.
  mutating func setContentID(_ id: ContentID, of seq: UInt64) {
    let slot = grow(to: seq)
    links[slot].contentHigh = id.high
    links[slot].contentLow = id.low
  }

  /// The content id noted for the record `seq`, if any.
  func contentID(of seq: UInt64) -> ContentID? {
    guard seq < UInt64(links.count) else { return nil }
    let link = links[Int(seq)]
    return link.contentHigh == 0 && link.contentLow == 0 ? nil : ContentID(high: link.contentHigh, low: link.contentLow)
  }

  /// Unlinks erased records: nothing of them stays behind, not even which went together.
  mutating func erase(_ seqs: [UInt64]) {
    for seq in seqs where seq < UInt64(links.count) { links[Int(seq)] = Link() }
  }

  /// Appends the records of the cookie whose first record is `first`, latest first.
  func seqs(first: UInt64, into out: inout [UInt64]) {
    guard first < UInt64(links.count) else { return }
    var seq = links[Int(first)].last
    while seq != Self.end {
      out.append(seq)
      seq = links[Int(seq)].previous
    }
  }
}
