/// Snapshot bytes checked and cut into sections, each decodable on its own (and at the same
/// time as the others: the store decodes them on all cores).
public struct GraphSnapshot: @unchecked Sendable {
  /// The parts of a snapshot, in file order.
  public enum Section: Int, CaseIterable, Sendable {
    /// `profiles` holds the first half of the profile slots, `moreProfiles` the rest.
    /// Likewise `records` and `moreRecords`.
    case profiles, moreProfiles, index, records, moreRecords, cookies, emails, contentIDs

    /// The sections only writes and raw-record reads need (`IdentityGraph.rawRecordsLoaded`).
    public static let rawRecords: Set<Section> = [.records, .moreRecords, .contentIDs]
  }

  /// One decoded section.
  public struct Decoded: @unchecked Sendable {
    public let section: Section
    let content: Content
  }

  enum Content {
    case index(SegmentIndex)
    case cookies(IdentifierTable<IdentityGraph.CookieInfo>, splits: Set<String>)
    case emails(IdentifierTable<IdentityGraph.EmailInfo>)
    case contentIDs(DenseTable<ContentID, UInt64>)
  }

  /// The bytes: valid while the caller keeps them (`@unchecked Sendable`: read only).
  public let bytes: UnsafeRawBufferPointer
  let limits: RecordLimits
  let profileCount: Int
  let repeatedEmailCount: Int
  let recordCount: Int
  let lastSeq: UInt64
  /// Profile slots (live or merged away) in the two profile sections together.
  public let profileSlots: Int
  /// Record slots (by sequence number, erased ones included) in the two record sections.
  public let recordSlots: Int
  private let ranges: [Range<Int>]
  private let sums: [UInt64]
  /// The most bytes a header may take.
  public static let headerBound = 1 << 16
  /// Whether a range of `bytes` can be read (see `init`).
  private let readable: @Sendable (Range<Int>) -> Bool

  /// Checks the header (its checksum, the magic, the limits) and finds the sections; each
  /// section's checksum is checked when it is decoded.
  /// - Parameters:
  ///   - bytes: the snapshot; they must outlive this value and the decoding of its sections.
  ///   - limits: the limits the graph must have; a snapshot made under others is refused (the
  ///     identifier cap decides links, so the graph would differ from a replay).
  ///   - readable: asked before a section's bytes are first read; false refuses the section as
  ///     damaged. The store reads a mapped file's pages in here, so that one the disk cannot
  ///     give back is an error rather than a SIGBUS (`MappedSnapshot.populate`).
  public init(
    _ bytes: UnsafeRawBufferPointer, limits: RecordLimits, readable: @escaping @Sendable (Range<Int>) -> Bool = { _ in true }
  ) throws(SnapshotError) {
    self.readable = readable
    // The header is read from its first 64 KiB only, read in first: a longer one (a very long
    // list of blocked identifiers) is refused as damaged, and the records are replayed.
    let prefix = Swift.min(bytes.count, Self.headerBound)
    guard readable(0..<prefix) else { throw .damaged("the header could not be read from the file") }
    var r = SnapshotReader(UnsafeRawBufferPointer(rebasing: bytes[..<prefix]))
    guard bytes.count >= 8, try r.bytes(8) == IdentityGraph.snapshotMagic else { throw .damaged("not a snapshot of this version") }
    _ = try r.bytes(16)
    let rules = try r.int()
    let made = try r.limits()
    self.bytes = bytes
    self.limits = limits
    profileCount = try r.int()
    repeatedEmailCount = try r.int()
    recordCount = try r.int()
    let profileSlots = try r.nonNegative()
    let recordSlots = try r.nonNegative()
    lastSeq = try r.uint()
    var sizes: [(size: Int, sum: UInt64)] = []
    for _ in Section.allCases { sizes.append((try r.nonNegative(), try r.fixed())) }
    let header = r.offset
    guard try r.fixed() == SnapshotWriter.checksum(UnsafeRawBufferPointer(rebasing: bytes[..<header])) else {
      throw .damaged("the header's checksum does not match")
    }
    guard rules == IdentityGraph.rulesVersion else { throw .otherRules }
    guard made == limits else { throw .otherLimits }
    var at = r.offset
    var ranges: [Range<Int>] = []
    for (size, _) in sizes {
      guard size <= bytes.count - at else { throw .damaged("the sections do not add up to the snapshot's size") }
      ranges.append(at..<(at + size))
      at += size
    }
    guard at == bytes.count else { throw .damaged("\(bytes.count - at) bytes follow the last section") }
    // Every slot takes a byte at least (the header's checksum vouches for the count).
    guard profileSlots <= ranges[Section.profiles.rawValue].count + ranges[Section.moreProfiles.rawValue].count else {
      throw .damaged("\(profileSlots) profile slots do not fit their sections")
    }
    guard recordSlots <= ranges[Section.records.rawValue].count + ranges[Section.moreRecords.rawValue].count else {
      throw .damaged("\(recordSlots) record slots do not fit their sections")
    }
    self.profileSlots = profileSlots
    self.recordSlots = recordSlots
    self.ranges = ranges
    self.sums = sizes.map(\.sum)
  }

  /// Where a section's bytes are in the snapshot.
  public func range(of section: Section) -> Range<Int> { ranges[section.rawValue] }

  /// A section's bytes, checked against its checksum.
  private func checked(_ section: Section) throws(SnapshotError) -> UnsafeRawBufferPointer {
    guard readable(ranges[section.rawValue]) else { throw .damaged("section \(section) could not be read from the file") }
    let part = UnsafeRawBufferPointer(rebasing: bytes[ranges[section.rawValue]])
    guard SnapshotWriter.checksum(part) == sums[section.rawValue] else { throw .damaged("section \(section): the checksum does not match") }
    return part
  }

  /// Decodes one half of the profiles (`.profiles` or `.moreProfiles`) straight into its slots
  /// of `profiles` and `revisions`: uninitialized memory of `profileSlots` elements each,
  /// which the two halves fill at the same time, so the graph's array is built once, in place.
  /// Whatever happens, this half's slots are initialized on return (nil and 0 past a failure).
  public func decodeProfiles(
    _ section: Section, into profiles: UnsafeMutableBufferPointer<Profile?>, revisions: UnsafeMutableBufferPointer<UInt64>
  ) throws(SnapshotError) {
    precondition(section == .profiles || section == .moreProfiles, "\(section) is not a half of the profiles")
    precondition(profiles.count == revisions.count, "as many revisions as profiles")
    try decodeHalf(section, second: section == .moreProfiles, of: profiles.count) { r, slot throws(SnapshotError) in
      let live = try r.flag()
      (profiles.baseAddress! + slot).initialize(to: live ? try r.profile(id: slot) : nil)
      // Fresh revisions: stamps of this process never repeat.
      (revisions.baseAddress! + slot).initialize(to: live ? ProfileStamp.nextRevision() : 0)
    } rest: { slots in
      (profiles.baseAddress! + slots.lowerBound).initialize(repeating: nil, count: slots.count)
      (revisions.baseAddress! + slots.lowerBound).initialize(repeating: 0, count: slots.count)
    }
  }

  /// Decodes one half of an array written by `SnapshotWriter.half`: checks the section's header
  /// against the half of `all` slots it must hold, calls `slot` for each of its slots in order,
  /// and `rest` for the slots left when it fails (so the caller's memory is always initialized).
  private func decodeHalf(
    _ section: Section, second: Bool, of all: Int, slot: (inout SnapshotReader, Int) throws(SnapshotError) -> Void,
    rest: (Range<Int>) -> Void
  ) throws(SnapshotError) {
    let mine = second ? (all / 2)..<all : 0..<(all / 2)
    var done = mine.lowerBound
    defer { if done < mine.upperBound { rest(done..<mine.upperBound) } }
    var r = SnapshotReader(try checked(section))
    let (first, slots, total) = try r.half()
    guard total == all, first == mine.lowerBound, slots == mine.count else {
      throw .damaged("section \(section) holds slots \(first)..<\(first + slots) of \(total), not \(mine) of \(all)")
    }
    while done < mine.upperBound {
      try slot(&r, done)
      done += 1
    }
    guard r.atEnd else { throw .damaged("\(r.remaining) bytes follow section \(section)") }
  }

  /// Both halves of the profiles, one after the other (`decodeProfiles`).
  public func decodeAllProfiles() throws(SnapshotError) -> (profiles: SlotArray<Profile?>, revisions: SlotArray<UInt64>) {
    let slots = profileSlots
    var failure: SnapshotError?
    var profiles: SlotArray<Profile?> = []
    let revisions = SlotArray<UInt64>(unsafeUninitializedCapacity: slots) { revisions, revisionCount in
      profiles = SlotArray<Profile?>(unsafeUninitializedCapacity: slots) { buffer, count in
        for half in [Section.profiles, .moreProfiles] {
          do throws(SnapshotError) { try decodeProfiles(half, into: buffer, revisions: revisions) } catch { failure = failure ?? error }
        }
        count = slots
      }
      revisionCount = slots
    }
    if let failure { throw failure }
    return (profiles, revisions)
  }

  /// Decodes one half of the raw records (`.records` or `.moreRecords`) straight into its slots
  /// of `records` (uninitialized memory of `recordSlots` elements, which the two halves fill at
  /// the same time). Whatever happens, this half's slots are initialized on return (nil past a
  /// failure).
  public func decodeRecords(_ section: Section, into records: UnsafeMutableBufferPointer<Record?>) throws(SnapshotError) {
    precondition(section == .records || section == .moreRecords, "\(section) is not a half of the records")
    try decodeHalf(section, second: section == .moreRecords, of: records.count) { r, slot throws(SnapshotError) in
      (records.baseAddress! + slot).initialize(to: try r.flag() ? try r.record() : nil)
    } rest: { slots in
      (records.baseAddress! + slots.lowerBound).initialize(repeating: nil, count: slots.count)
    }
  }

  /// Both halves of the raw records, one after the other (`decodeRecords`).
  public func decodeAllRecords() throws(SnapshotError) -> SlotArray<Record?> {
    var failure: SnapshotError?
    let records = SlotArray<Record?>(unsafeUninitializedCapacity: recordSlots) { buffer, count in
      for half in [Section.records, .moreRecords] {
        do throws(SnapshotError) { try decodeRecords(half, into: buffer) } catch { failure = failure ?? error }
      }
      count = recordSlots
    }
    if let failure { throw failure }
    return records
  }

  /// Decodes one section other than the halves (`decodeProfiles`, `decodeRecords`).
  public func decode(_ section: Section) throws(SnapshotError) -> Decoded {
    var r = SnapshotReader(try checked(section))
    let content: Content
    switch section {
    case .profiles, .moreProfiles, .records, .moreRecords:
      preconditionFailure("halves decode with decodeProfiles or decodeRecords")
    case .index:
      content = .index(try r.index())
    case .cookies:
      let n = try r.count()
      var cookies = IdentifierTable<IdentityGraph.CookieInfo>()
      cookies.reserveCapacity(n)
      for _ in 0..<n {
        let cookie = try r.string()
        cookies[cookie] = IdentityGraph.CookieInfo(
          profile: try r.nonNegative(), firstSeq: try r.uint(), latest: try r.key(), emails: try r.identifiers())
      }
      content = .cookies(cookies, splits: Set(try r.strings()))
    case .emails:
      let n = try r.count()
      var emails = IdentifierTable<IdentityGraph.EmailInfo>()
      emails.reserveCapacity(n)
      for _ in 0..<n {
        let email = try r.string()
        emails[email] = IdentityGraph.EmailInfo(profile: try r.nonNegative(), cookies: try r.identifiers())
      }
      content = .emails(emails)
    case .contentIDs:
      let n = try r.count()
      var ids = DenseTable<ContentID, UInt64>()
      ids.reserveCapacity(n)
      for _ in 0..<n {
        let id = ContentID(high: try r.fixed(), low: try r.fixed())
        ids[id] = try r.uint()
      }
      content = .contentIDs(ids)
    }
    guard r.atEnd else { throw .damaged("\(r.remaining) bytes follow section \(section)") }
    return Decoded(section: section, content: content)
  }
}

/// Why snapshot bytes were not restored (the store then replays its records instead).
public enum SnapshotError: Error, Hashable, Sendable, CustomStringConvertible {
  case damaged(String)
  case otherLimits
  case otherRules

  public var description: String {
    switch self {
    case .damaged(let why): "the snapshot is damaged: \(why)"
    case .otherLimits: "the snapshot was made under other record limits"
    case .otherRules: "the snapshot was made by a build with other identity rules"
    }
  }
}
