/// A snapshot of the identity graph: everything `apply` built (profiles, cookies, emails, raw
/// records, content ids, split cookies, counters) and its segment index, in a compact binary
/// form, so a store can restore the graph at start-up without replaying every record. Bytes in,
/// bytes out: the store owns the file.
///
/// Layout: a header (the magic `AUDSNAP7`, a caller's 16-byte token the store checks against its
/// database, the limits the graph was built with, the counters, then the size and 64-bit
/// checksum of each of eight sections, then a checksum of the header), then the sections: the
/// first half of the profiles, the second half, index, the records in two halves too, cookies
/// and splits, emails, content ids. Sections are independent, so they are encoded and decoded at
/// the same time on several cores (`GraphSnapshot`); the costliest come in halves.
/// Integers are varints (zigzag for signed ones), strings their UTF-8 length and bytes; the
/// index's columns are raw little-endian arrays.
extension IdentityGraph {
  static let snapshotMagic = Array("AUDSNAP7".utf8)
  /// The version of what `apply` decides (links, merges, caps, folding). A build that decides
  /// differently must bump it: its snapshots are then refused and the records replayed.
  public static let rulesVersion = 1

  /// The graph as snapshot bytes (the header, then every section: `snapshotHeader` over
  /// `snapshotSection` of each).
  /// - Parameters:
  ///   - token: 16 bytes the store uses to tell this snapshot from older ones.
  public func snapshot(token: [UInt8]) -> [UInt8] {
    let sections = GraphSnapshot.Section.allCases.map { snapshotSection($0) }
    return ([snapshotHeader(token: token, sections: sections)] + sections).flatMap { $0 }
  }

  /// One section of the snapshot (sections may be encoded at the same time).
  public func snapshotSection(_ section: GraphSnapshot.Section) -> [UInt8] {
    var w = SnapshotWriter()
    switch section {
    case .profiles, .moreProfiles:
      let slots = w.half(of: profiles.count, second: section == .moreProfiles)
      w.reserve(slots.count * 96)
      for p in profiles[slots] {
        if let p { w.flag(true); w.profile(p) } else { w.flag(false) }
      }
    case .index:
      w.index(index)
    case .records, .moreRecords:
      let slots = w.half(of: records.count, second: section == .moreRecords)
      w.reserve(slots.count * 112)
      for r in records[slots] {
        if let r { w.flag(true); w.record(r) } else { w.flag(false) }
      }
    case .cookies:
      w.reserve(cookies.count * 48)
      w.int(cookies.count)
      for (cookie, info) in cookies {
        w.string(cookie.string)
        w.int(info.profile)
        w.uint(info.firstSeq)
        w.key(info.latest)
        w.strings(info.emails)
      }
      w.strings(splitCookies.sorted())
    case .emails:
      w.reserve(emails.count * 40)
      w.int(emails.count)
      for (email, info) in emails {
        w.string(email.string)
        w.int(info.profile)
        w.strings(info.cookies)
      }
    case .contentIDs:
      w.reserve(contentIDs.count * 20)
      w.int(contentIDs.count)
      for (id, seq) in contentIDs {
        w.fixed(id.high)
        w.fixed(id.low)
        w.uint(seq)
      }
    }
    return w.out
  }

  /// The snapshot's header, for its sections (all of them, in `Section` order).
  /// - Parameters:
  ///   - token: 16 bytes the store uses to tell this snapshot from older ones.
  ///   - sections: `snapshotSection` of every section.
  public func snapshotHeader(token: [UInt8], sections: [[UInt8]]) -> [UInt8] {
    precondition(token.count == 16, "a snapshot token is 16 bytes")
    precondition(sections.count == GraphSnapshot.Section.allCases.count, "a snapshot has every section")
    var w = SnapshotWriter()
    w.bytes(Self.snapshotMagic)
    w.bytes(token)
    w.int(Self.rulesVersion)
    w.limits(limits)
    for n in [profileCount, repeatedEmailCount, recordCount, profiles.count, records.count] { w.int(n) }
    w.uint(lastSeq)
    for section in sections {
      w.int(section.count)
      w.fixed(section.withUnsafeBytes { SnapshotWriter.checksum($0) })
    }
    w.fixed(w.out.withUnsafeBytes { SnapshotWriter.checksum($0) })
    return w.out
  }

  /// The token of snapshot bytes, or nil when they do not start like a snapshot.
  /// - Parameters:
  ///   - bytes: the snapshot.
  public static func snapshotToken(_ bytes: UnsafeRawBufferPointer) -> [UInt8]? {
    guard bytes.count >= 24, Array(bytes[0..<8]) == snapshotMagic else { return nil }
    return Array(bytes[8..<24])
  }

  /// Restores a graph from snapshot bytes, decoding one section after the other.
  /// - Parameters:
  ///   - snapshot: bytes from `snapshot(token:)`.
  ///   - limits: the limits the graph must have.
  /// - Throws: `SnapshotError` as `GraphSnapshot` and `init(_:sections:)` do.
  public init(snapshot bytes: UnsafeRawBufferPointer, limits: RecordLimits) throws(SnapshotError) {
    let snapshot = try GraphSnapshot(bytes, limits: limits)
    let (profiles, revisions) = try snapshot.decodeAllProfiles()
    let records = try snapshot.decodeAllRecords()
    var decoded: [GraphSnapshot.Decoded] = []
    for section in [GraphSnapshot.Section.index, .cookies, .emails, .contentIDs] { decoded.append(try snapshot.decode(section)) }
    try self.init(snapshot, profiles: profiles, revisions: revisions, sections: decoded)
    try installRecords(RawRecords(records: records, contentIDs: contentIDs))
  }

  /// Assembles a graph from its snapshot's profiles (`GraphSnapshot.decodeProfiles`) and its
  /// index, cookies and emails, decoded (one of each, in any order), and the content ids when
  /// given; the raw records come after, with `installRecords` (until then `rawRecordsLoaded` is
  /// false: see there).
  /// - Throws: `SnapshotError.damaged` when the sections do not fit together.
  public init(
    _ snapshot: GraphSnapshot, profiles: SlotArray<Profile?>, revisions: SlotArray<UInt64>, sections: consuming [GraphSnapshot.Decoded]
  ) throws(SnapshotError) {
    self.init(limits: snapshot.limits)
    profileCount = snapshot.profileCount
    repeatedEmailCount = snapshot.repeatedEmailCount
    recordCount = snapshot.recordCount
    lastSeq = snapshot.lastSeq
    self.profiles = profiles
    self.revisions = revisions
    rawRecordsLoaded = false
    var found: Set<GraphSnapshot.Section> = []
    var parts = consume sections
    while let part = parts.popLast() {
      guard found.insert(part.section).inserted else { throw .damaged("section \(part.section) was given twice") }
      switch part.content {
      case .index(let i): index = i
      case .cookies(let c, let splits):
        cookies = c
        splitCookies = splits
      case .emails(let e): emails = e
      case .contentIDs(let ids): contentIDs = ids
      }
    }
    guard found.isSuperset(of: [.index, .cookies, .emails]) else { throw .damaged("sections are missing") }
    let slots = profiles.count
    // A live profile has a revision; every cookie and email must point at one.
    guard revisions.count == slots, index.universe <= slots,
      cookies.allValues.allSatisfy({ $0.profile < slots && revisions[$0.profile] != 0 }),
      emails.allValues.allSatisfy({ $0.profile < slots && revisions[$0.profile] != 0 })
    else { throw .damaged("the sections do not fit together") }
  }

  /// A graph's raw records and their content ids (`installRecords`).
  public struct RawRecords: Sendable {
    /// Indexed by sequence number.
    public var records: SlotArray<Record?>
    public var contentIDs: DenseTable<ContentID, UInt64>
    /// The records' chains by cookie (`linkRecords`), nil until made.
    var links: RecordLinks?

    /// - Parameters:
    ///   - records: indexed by sequence number.
    ///   - contentIDs: the sequence number of each record's content id.
    public init(records: SlotArray<Record?>, contentIDs: DenseTable<ContentID, UInt64>) {
      self.records = records
      self.contentIDs = contentIDs
    }

    /// - Parameters:
    ///   - records: `GraphSnapshot.decodeRecords` of both halves.
    ///   - section: the decoded `.contentIDs` section.
    public init(records: SlotArray<Record?>, contentIDs section: GraphSnapshot.Decoded) throws(SnapshotError) {
      guard case .contentIDs(let ids) = section.content else { throw .damaged("\(section.section) is not the content ids") }
      self.init(records: records, contentIDs: ids)
    }

    /// Chains the records by cookie (`IdentityGraph.recordSeqs(of:)`), on the caller's thread,
    /// once `records` holds them all: `installRecords` does it otherwise, under the graph's lock.
    public mutating func linkRecords() { links = RecordLinks(records: records, contentIDs: contentIDs) }
  }

  /// Gives a graph assembled from a snapshot its raw records (`GraphSnapshot.decodeRecords` and
  /// the content ids, or read from the store's rows when the snapshot's could not be decoded).
  /// - Throws: `SnapshotError.damaged` when they do not fit the graph.
  public mutating func installRecords(_ raw: RawRecords) throws(SnapshotError) {
    guard raw.records.count == 0 || UInt64(raw.records.count - 1) <= lastSeq, raw.contentIDs.count <= recordCount else {
      throw .damaged("the raw records do not fit the graph")
    }
    recordLinks = raw.links ?? RecordLinks(records: raw.records, contentIDs: raw.contentIDs)
    records = raw.records
    contentIDs = raw.contentIDs
    rawRecordsLoaded = true
  }
}
