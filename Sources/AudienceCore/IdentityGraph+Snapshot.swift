/// A snapshot of the identity graph: everything `apply` built (profiles, cookies, emails, raw
/// records, content ids, split cookies, counters) and its segment index, in a compact binary
/// form, so a store can restore the graph at start-up without replaying every record. Bytes in,
/// bytes out: the store owns the file.
///
/// Layout: a header (the magic `AUDSNAP4`, a caller's 16-byte token the store checks against its
/// database, the limits the graph was built with, the counters, then the size and 64-bit
/// checksum of each of seven sections, then a checksum of the header), then the sections: the
/// first half of the profiles, the second half, index, records, cookies, emails, content ids
/// and splits. Sections are independent, so they are encoded and decoded at the same time on
/// several cores (`GraphSnapshot`); the profiles, the costliest to decode, come in two halves.
/// Integers are varints (zigzag for signed ones), strings their UTF-8 length and bytes; the
/// index's columns are raw little-endian arrays.
extension IdentityGraph {
  static let snapshotMagic = Array("AUDSNAP4".utf8)
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
      // Each half: its first id, its count, the count of both, then each slot.
      let half = profiles.count / 2
      let slots = section == .profiles ? 0..<half : half..<profiles.count
      w.reserve(slots.count * 96)
      w.int(slots.lowerBound)
      w.int(slots.count)
      w.int(profiles.count)
      for p in profiles[slots] {
        if let p { w.flag(true); w.profile(p) } else { w.flag(false) }
      }
    case .index:
      w.index(index)
    case .records:
      w.reserve(records.count * 112)
      w.int(records.count)
      for r in records {
        if let r { w.flag(true); w.record(r) } else { w.flag(false) }
      }
    case .cookies:
      w.reserve(cookies.count * 48)
      w.int(cookies.count)
      for (cookie, info) in cookies {
        w.string(cookie)
        w.int(info.profile)
        w.uint(info.firstSeq)
        w.key(info.latest)
        w.strings(info.emails)
      }
    case .emails:
      w.reserve(emails.count * 40)
      w.int(emails.count)
      for (email, info) in emails {
        w.string(email)
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
      w.strings(splitCookies.sorted())
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
    for n in [profileCount, repeatedEmailCount, recordCount] { w.int(n) }
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
    var decoded: [GraphSnapshot.Decoded] = []
    for section in GraphSnapshot.Section.allCases { decoded.append(try snapshot.decode(section)) }
    try self.init(snapshot, sections: decoded)
  }

  /// Assembles a graph from its snapshot's decoded sections (one of each, in any order).
  /// - Parameters:
  ///   - recordsLater: the `.records` section is left out, to be given to `installRecords`
  ///     (until then `rawRecordsLoaded` is false: see there).
  /// - Throws: `SnapshotError.damaged` when the sections do not fit together.
  public init(_ snapshot: GraphSnapshot, sections: consuming [GraphSnapshot.Decoded], recordsLater: Bool = false) throws(SnapshotError) {
    self.init(limits: snapshot.limits)
    profileCount = snapshot.profileCount
    repeatedEmailCount = snapshot.repeatedEmailCount
    recordCount = snapshot.recordCount
    lastSeq = snapshot.lastSeq
    var found = Set<GraphSnapshot.Section>()
    var halves: [(first: Int, profiles: [Profile?], revisions: [UInt64])] = []
    // Taken out one by one, so each part's arrays end up referenced once (the profiles' halves
    // are then joined in place, without copying a million profiles).
    var parts = consume sections
    while let part = parts.popLast() {
      switch part.content {
      case .profiles(let p, let r, let first):
        halves.append((first, p, r))
      case .index(let i): index = i
      case .records(let r): records = r
      case .cookies(let c): cookies = c
      case .emails(let e): emails = e
      case .contentIDs(let ids, let splits):
        contentIDs = ids
        splitCookies = splits
      }
      found.insert(part.section)
    }
    if recordsLater {
      guard !found.contains(.records) else { throw .damaged("the records were given twice") }
      found.insert(.records)
      rawRecordsLoaded = false
    }
    guard found.count == GraphSnapshot.Section.allCases.count else { throw .damaged("sections are missing") }
    halves.sort { $0.first < $1.first }
    guard halves.count == 2, halves[0].first == 0, halves[1].first == halves[0].profiles.count else {
      throw .damaged("the profiles' halves do not fit together")
    }
    swap(&profiles, &halves[0].profiles)
    Self.moveAppend(&profiles, from: &halves[1].profiles)
    revisions = halves[0].revisions + halves[1].revisions
    let slots = profiles.count
    // A live profile has a revision; every cookie and email must point at one.
    guard revisions.count == slots, index.universe <= slots,
      cookies.values.allSatisfy({ $0.profile < slots && revisions[$0.profile] != 0 }),
      emails.values.allSatisfy({ $0.profile < slots && revisions[$0.profile] != 0 })
    else { throw .damaged("the sections do not fit together") }
  }

  /// Moves `source`'s profiles to the end of `target` (a memory copy: no retain or release of
  /// their strings and arrays), leaving `source` all nil.
  private static func moveAppend(_ target: inout [Profile?], from source: inout [Profile?]) {
    let n = source.count
    target.append(contentsOf: repeatElement(nil, count: n))
    target.withUnsafeMutableBufferPointer { all in
      source.withUnsafeMutableBufferPointer { from in
        let tail = UnsafeMutableBufferPointer(rebasing: all[(all.count - n)...])
        _ = tail.deinitialize()  // nils
        _ = tail.moveInitialize(fromContentsOf: from)
        from.initialize(repeating: nil)  // moved out: uninitialized until given nils again
      }
    }
  }

  /// Gives a graph assembled with `recordsLater` its raw records: the snapshot's `.records`
  /// section, decoded.
  /// - Throws: `SnapshotError.damaged` when it is another section or does not fit the graph.
  public mutating func installRecords(_ section: GraphSnapshot.Decoded) throws(SnapshotError) {
    guard case .records(let r) = section.content else { throw .damaged("\(section.section) is not the records") }
    guard r.count == 0 || UInt64(r.count - 1) <= lastSeq else { throw .damaged("the records go past the last sequence number") }
    installRecords(r)
  }

  /// Gives a graph assembled with `recordsLater` its raw records, read another way (the
  /// database's rows, when the snapshot's could not be decoded).
  /// - Parameters:
  ///   - records: indexed by sequence number.
  public mutating func installRecords(_ records: [Record?]) {
    self.records = records
    rawRecordsLoaded = true
  }
}
