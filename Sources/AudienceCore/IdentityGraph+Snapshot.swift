/// A snapshot of the identity graph: everything `apply` built (profiles, cookies, emails, raw
/// records, content ids, split cookies, counters) and its segment index, in a compact binary
/// form, so a store can restore the graph at start-up without replaying every record. Bytes in,
/// bytes out: the store owns the file.
///
/// Layout: a header (the magic `AUDSNAP3`, a caller's 16-byte token the store checks against its
/// database, the limits the graph was built with, the counters, then the size and 64-bit
/// checksum of each of six sections, then a checksum of the header), then the sections:
/// profiles, index, records, cookies, emails, content ids and splits. Sections are independent,
/// so they are encoded and decoded at the same time on several cores (`GraphSnapshot`).
/// Integers are varints (zigzag for signed ones), strings their UTF-8 length and bytes; the
/// index's columns are raw little-endian arrays.
extension IdentityGraph {
  static let snapshotMagic = Array("AUDSNAP3".utf8)
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
    case .profiles:
      w.reserve(profiles.count * 96)
      w.int(profiles.count)
      for p in profiles {
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
  /// - Throws: `SnapshotError.damaged` when the sections do not fit together.
  public init(_ snapshot: GraphSnapshot, sections: [GraphSnapshot.Decoded]) throws(SnapshotError) {
    self.init(limits: snapshot.limits)
    profileCount = snapshot.profileCount
    repeatedEmailCount = snapshot.repeatedEmailCount
    recordCount = snapshot.recordCount
    lastSeq = snapshot.lastSeq
    var found = Set<GraphSnapshot.Section>()
    for part in sections {
      switch part.content {
      case .profiles(let p, let r):
        profiles = p
        revisions = r
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
    guard found.count == GraphSnapshot.Section.allCases.count else { throw .damaged("sections are missing") }
    let slots = profiles.count
    // A live profile has a revision; every cookie and email must point at one.
    guard revisions.count == slots, index.universe <= slots,
      cookies.values.allSatisfy({ $0.profile < slots && revisions[$0.profile] != 0 }),
      emails.values.allSatisfy({ $0.profile < slots && revisions[$0.profile] != 0 })
    else { throw .damaged("the sections do not fit together") }
  }
}

/// Snapshot bytes checked and cut into sections, each decodable on its own (and at the same
/// time as the others: the store decodes them on all cores).
public struct GraphSnapshot: @unchecked Sendable {
  /// The parts of a snapshot, in file order.
  public enum Section: Int, CaseIterable, Sendable {
    case profiles, index, records, cookies, emails, contentIDs
  }

  /// One decoded section.
  public struct Decoded: @unchecked Sendable {
    public let section: Section
    let content: Content
  }

  enum Content {
    case profiles([Profile?], revisions: [UInt64])
    case index(SegmentIndex)
    case records([Record?])
    case cookies([String: IdentityGraph.CookieInfo])
    case emails([String: IdentityGraph.EmailInfo])
    case contentIDs([ContentID: UInt64], Set<String>)
  }

  /// The bytes: valid while the caller keeps them (`@unchecked Sendable`: read only).
  public let bytes: UnsafeRawBufferPointer
  let limits: RecordLimits
  let profileCount: Int
  let repeatedEmailCount: Int
  let recordCount: Int
  let lastSeq: UInt64
  private let ranges: [Range<Int>]
  private let sums: [UInt64]

  /// Checks the header (its checksum, the magic, the limits) and finds the sections; each
  /// section's checksum is checked when it is decoded.
  /// - Parameters:
  ///   - bytes: the snapshot; they must outlive this value and the decoding of its sections.
  ///   - limits: the limits the graph must have; a snapshot made under others is refused (the
  ///     identifier cap decides links, so the graph would differ from a replay).
  public init(_ bytes: UnsafeRawBufferPointer, limits: RecordLimits) throws(SnapshotError) {
    var r = SnapshotReader(bytes)
    guard bytes.count >= 8, try r.bytes(8) == IdentityGraph.snapshotMagic else { throw .damaged("not a snapshot of this version") }
    _ = try r.bytes(16)
    let rules = try r.int()
    let made = try r.limits()
    self.bytes = bytes
    self.limits = limits
    profileCount = try r.int()
    repeatedEmailCount = try r.int()
    recordCount = try r.int()
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
    self.ranges = ranges
    self.sums = sizes.map(\.sum)
  }

  /// Where a section's bytes are in the snapshot.
  public func range(of section: Section) -> Range<Int> { ranges[section.rawValue] }

  /// Decodes one section.
  public func decode(_ section: Section) throws(SnapshotError) -> Decoded {
    let part = UnsafeRawBufferPointer(rebasing: bytes[ranges[section.rawValue]])
    guard SnapshotWriter.checksum(part) == sums[section.rawValue] else { throw .damaged("section \(section): the checksum does not match") }
    var r = SnapshotReader(part)
    let content: Content
    switch section {
    case .profiles:
      let slots = try r.count()
      var profiles: [Profile?] = []
      profiles.reserveCapacity(slots)
      // Fresh revisions: stamps of this process never repeat.
      var revisions: [UInt64] = []
      revisions.reserveCapacity(slots)
      for id in 0..<slots {
        let live = try r.flag()
        profiles.append(live ? try r.profile(id: id) : nil)
        revisions.append(live ? ProfileStamp.nextRevision() : 0)
      }
      content = .profiles(profiles, revisions: revisions)
    case .index:
      content = .index(try r.index())
    case .records:
      let slots = try r.count()
      var records: [Record?] = []
      records.reserveCapacity(slots)
      for _ in 0..<slots { records.append(try r.flag() ? try r.record() : nil) }
      content = .records(records)
    case .cookies:
      let n = try r.count()
      var cookies: [String: IdentityGraph.CookieInfo] = [:]
      cookies.reserveCapacity(n)
      for _ in 0..<n {
        let cookie = try r.string()
        cookies[cookie] = IdentityGraph.CookieInfo(
          profile: try r.nonNegative(), firstSeq: try r.uint(), latest: try r.key(), emails: try r.strings())
      }
      content = .cookies(cookies)
    case .emails:
      let n = try r.count()
      var emails: [String: IdentityGraph.EmailInfo] = [:]
      emails.reserveCapacity(n)
      for _ in 0..<n {
        let email = try r.string()
        emails[email] = IdentityGraph.EmailInfo(profile: try r.nonNegative(), cookies: try r.strings())
      }
      content = .emails(emails)
    case .contentIDs:
      let n = try r.count()
      var ids: [ContentID: UInt64] = [:]
      ids.reserveCapacity(n)
      for _ in 0..<n {
        let id = ContentID(high: try r.fixed(), low: try r.fixed())
        ids[id] = try r.uint()
      }
      content = .contentIDs(ids, Set(try r.strings()))
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

/// Appends a snapshot's values.
struct SnapshotWriter {
  var out: [UInt8] = []

  mutating func reserve(_ bytes: Int) { out.reserveCapacity(bytes) }

  mutating func bytes(_ b: [UInt8]) { out.append(contentsOf: b) }

  mutating func uint(_ v: UInt64) {
    var v = v
    while v >= 0x80 {
      out.append(UInt8(truncatingIfNeeded: v) | 0x80)
      v >>= 7
    }
    out.append(UInt8(v))
  }

  mutating func int(_ v: Int) { uint(UInt64(bitPattern: Int64((v << 1) ^ (v >> 63)))) }

  mutating func fixed(_ v: UInt64) { for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) } }

  mutating func flag(_ b: Bool) { out.append(b ? 1 : 0) }

  /// A string: its UTF-8 length, then its bytes.
  mutating func string(_ s: String) {
    var s = s
    s.withUTF8 { u in
      uint(UInt64(u.count))
      out.append(contentsOf: u)
    }
  }

  mutating func strings(_ list: [String]) {
    int(list.count)
    for s in list { string(s) }
  }

  mutating func optional(_ s: String?) {
    if let s { flag(true); string(s) } else { flag(false) }
  }

  mutating func key(_ k: RecordKey) {
    int(Int(k.createdAt.seconds))
    uint(k.seq)
  }

  /// A key that is mostly the profile's latest (one byte then).
  mutating func key(_ k: RecordKey, usually last: RecordKey) {
    if k == last { flag(false) } else { flag(true); key(k) }
  }

  mutating func sourced(_ s: Sourced<String>?, last: RecordKey) {
    guard let s else { return flag(false) }
    flag(true)
    string(s.value)
    key(s.key, usually: last)
  }

  /// A value that is one of `list` (a profile's cookie or email): its position, or past the end
  /// and then the value.
  mutating func member(_ value: String, of list: [String]) {
    if let i = list.firstIndex(of: value) {
      int(i)
    } else {
      int(list.count)
      string(value)
    }
  }

  mutating func limits(_ l: RecordLimits) {
    for n in [l.maxFieldBytes, l.maxInterestsPerRecord, l.maxInterestsPerProfile, l.maxIdentifiersPerProfile] { int(n) }
    strings(l.blockedIdentifiers.sorted())
  }

  mutating func profile(_ p: Profile) {
    strings(p.cookies)
    strings(p.emails)
    int(p.recordCount)
    key(p.first)
    key(p.last)
    member(p.cookie.value, of: p.cookies)
    key(p.cookie.key, usually: p.last)
    if let email = p.email {
      flag(true)
      member(email.value, of: p.emails)
      key(email.key, usually: p.last)
    } else {
      flag(false)
    }
    for field in [p.phone, p.state, p.country, p.city, p.gender, p.income, p.education] { sourced(field, last: p.last) }
    if let age = p.age {
      flag(true)
      int(age.value)
      key(age.key, usually: p.last)
    } else {
      flag(false)
    }
    int(p.interests.count)
    for (folded, source) in p.interests {
      string(source.spelling)
      // The folded form is the spelling lower-cased, as `Profile` keys it.
      key(source.key, usually: p.last)
      int(source.position)
      flag(folded != source.spelling.lowercased())
      if folded != source.spelling.lowercased() { string(folded) }
    }
    flag(p.inCohort)
  }

  /// An array of fixed-width integers: its count, then its bytes (little-endian, as in memory).
  mutating func raw<T: FixedWidthInteger>(_ a: [T]) {
    int(a.count)
    a.withUnsafeBytes { out.append(contentsOf: $0) }
  }

  mutating func bitmap(_ b: Bitmap) { raw(b.words) }

  mutating func posting(_ p: PostingSet) {
    int(p.count)
    raw(p.ids)
    if let bits = p.bits { flag(true); bitmap(bits) } else { flag(false) }
  }

  mutating func postings(_ list: [PostingSet]) {
    int(list.count)
    for p in list { posting(p) }
  }

  mutating func index(_ x: SegmentIndex) {
    int(x.universe)
    bitmap(x.alive)
    int(x.dictionaries.count)
    for d in x.dictionaries { strings(d.values) }
    for c in x.codes { raw(c) }
    for p in x.postings { postings(p) }
    raw(x.ages)
    postings(x.agePostings)
    strings(x.interestDictionary.values)
    int(x.interestCodes.count)
    for codes in x.interestCodes {
      int(codes.count)
      for c in codes { uint(UInt64(c)) }
    }
    postings(x.interestPostings)
    int(x.incomeNumbers.count)
    for n in x.incomeNumbers {
      if let n { flag(true); int(Int(n)) } else { flag(false) }
    }
    raw(x.created)
    raw(x.seen)
    bitmap(x.cohort)
  }

  mutating func record(_ r: Record) {
    string(r.cookie)
    for field in [r.email, r.phoneNumber, r.location.state, r.location.country, r.location.city] { optional(field) }
    for field in [r.demographics.gender, r.demographics.income, r.demographics.education] { optional(field) }
    if let t = r.createdAt { flag(true); int(Int(t.seconds)) } else { flag(false) }
    if let age = r.demographics.age { flag(true); int(age) } else { flag(false) }
    strings(r.interests)
  }

  /// A 64-bit checksum over four interleaved lanes (fast enough to check hundreds of MiB at
  /// start-up; it catches damage, it is not a cryptographic hash).
  static func checksum(_ raw: UnsafeRawBufferPointer) -> UInt64 {
    var lanes: (UInt64, UInt64, UInt64, UInt64) = (0x9E37_79B9_7F4A_7C15, 0xC2B2_AE3D_27D4_EB4F, 0x1656_67B1_9E37_79F9, 0x27D4_EB2F_1656_67C5)
    @inline(__always) func mix(_ h: UInt64, _ w: UInt64) -> UInt64 {
      let x = (h ^ w) &* 0x9E37_79B1_85EB_CA87
      return x << 31 | x >> 33
    }
    let blocks = raw.count / 32
    for b in 0..<blocks {
      let o = b * 32
      lanes.0 = mix(lanes.0, raw.loadUnaligned(fromByteOffset: o, as: UInt64.self))
      lanes.1 = mix(lanes.1, raw.loadUnaligned(fromByteOffset: o + 8, as: UInt64.self))
      lanes.2 = mix(lanes.2, raw.loadUnaligned(fromByteOffset: o + 16, as: UInt64.self))
      lanes.3 = mix(lanes.3, raw.loadUnaligned(fromByteOffset: o + 24, as: UInt64.self))
    }
    var tail = UInt64(raw.count)
    for i in (blocks * 32)..<raw.count { tail = mix(tail, UInt64(raw[i])) }
    return mix(mix(mix(mix(tail, lanes.0), lanes.1), lanes.2), lanes.3)
  }
}

/// Reads a snapshot's values; every read is bounds-checked, so damaged bytes throw.
struct SnapshotReader {
  private let buf: UnsafeRawBufferPointer
  private var at = 0

  init(_ buf: UnsafeRawBufferPointer) { self.buf = buf }

  var atEnd: Bool { at == buf.count }
  var offset: Int { at }
  var remaining: Int { buf.count - at }

  private func damaged(_ what: String) -> SnapshotError { .damaged("\(what) at byte \(at)") }

  mutating func bytes(_ n: Int) throws(SnapshotError) -> [UInt8] {
    guard n <= remaining else { throw damaged("truncated") }
    defer { at += n }
    return Array(buf[at..<(at + n)])
  }

  mutating func uint() throws(SnapshotError) -> UInt64 {
    var v: UInt64 = 0
    var shift: UInt64 = 0
    while true {
      guard at < buf.count, shift < 64 else { throw damaged("bad varint") }
      let b = buf[at]
      at += 1
      v |= UInt64(b & 0x7F) << shift
      if b < 0x80 { return v }
      shift += 7
    }
  }

  mutating func int() throws(SnapshotError) -> Int {
    let z = try uint()
    return Int(truncatingIfNeeded: Int64(bitPattern: (z >> 1) ^ (0 &- (z & 1))))
  }

  /// A count of things that follow (each at least one byte), so a damaged count cannot ask
  /// for more memory than the snapshot's size.
  mutating func count() throws(SnapshotError) -> Int {
    let n = try int()
    guard n >= 0, n <= remaining else { throw damaged("bad count \(n)") }
    return n
  }

  mutating func nonNegative() throws(SnapshotError) -> Int {
    let n = try int()
    guard n >= 0 else { throw damaged("negative number \(n)") }
    return n
  }

  mutating func fixed() throws(SnapshotError) -> UInt64 {
    guard remaining >= 8 else { throw damaged("truncated") }
    defer { at += 8 }
    return buf.loadUnaligned(fromByteOffset: at, as: UInt64.self).littleEndian
  }

  mutating func flag() throws(SnapshotError) -> Bool {
    guard at < buf.count else { throw damaged("truncated") }
    defer { at += 1 }
    switch buf[at] {
    case 0: return false
    case 1: return true
    default: throw damaged("bad flag")
    }
  }

  mutating func string() throws(SnapshotError) -> String {
    let length = try uint()
    guard length <= UInt64(remaining) else { throw damaged("truncated string") }
    let n = Int(length)
    let s = String(decoding: UnsafeRawBufferPointer(rebasing: buf[at..<(at + n)]), as: UTF8.self)
    at += n
    return s
  }

  mutating func strings() throws(SnapshotError) -> [String] {
    let n = try count()
    var list: [String] = []
    list.reserveCapacity(n)
    for _ in 0..<n { list.append(try string()) }
    return list
  }

  mutating func optional() throws(SnapshotError) -> String? { try flag() ? try string() : nil }

  mutating func key() throws(SnapshotError) -> RecordKey {
    RecordKey(createdAt: Timestamp(seconds: Int64(try int())), seq: try uint())
  }

  mutating func key(usually last: RecordKey) throws(SnapshotError) -> RecordKey { try flag() ? try key() : last }

  mutating func sourced(last: RecordKey) throws(SnapshotError) -> Sourced<String>? {
    guard try flag() else { return nil }
    return Sourced(value: try string(), key: try key(usually: last))
  }

  mutating func member(of list: [String]) throws(SnapshotError) -> String {
    let i = try nonNegative()
    return i < list.count ? list[i] : try string()
  }

  mutating func limits() throws(SnapshotError) -> RecordLimits {
    var l = RecordLimits(maxFieldBytes: try int(), maxInterestsPerRecord: try int(), maxInterestsPerProfile: try int())
    l.maxIdentifiersPerProfile = try int()
    l.blockedIdentifiers = Set(try strings())
    return l
  }

  mutating func profile(id: ProfileID) throws(SnapshotError) -> Profile {
    let cookies = try strings()
    let emails = try strings()
    let recordCount = try int()
    let first = try key()
    let last = try key()
    let cookie = Sourced(value: try member(of: cookies), key: try key(usually: last))
    var p = Profile(id: id, key: first, cookie: cookie.value)
    p.cookies = cookies
    p.emails = emails
    p.recordCount = recordCount
    p.first = first
    p.last = last
    p.cookie = cookie
    if try flag() { p.email = Sourced(value: try member(of: emails), key: try key(usually: last)) }
    p.phone = try sourced(last: last)
    p.state = try sourced(last: last)
    p.country = try sourced(last: last)
    p.city = try sourced(last: last)
    p.gender = try sourced(last: last)
    p.income = try sourced(last: last)
    p.education = try sourced(last: last)
    if try flag() { p.age = Sourced(value: try int(), key: try key(usually: last)) }
    let interests = try count()
    p.interests.reserveCapacity(interests)
    for _ in 0..<interests {
      let source = InterestSource(spelling: try string(), key: try key(usually: last), position: try int())
      let folded = try flag() ? try string() : source.spelling.lowercased()
      p.interests[folded] = source
    }
    p.inCohort = try flag()
    return p
  }

  /// An array written by `SnapshotWriter.raw`.
  mutating func raw<T: FixedWidthInteger>(_: T.Type = T.self) throws(SnapshotError) -> [T] {
    let n = try int()
    let size = MemoryLayout<T>.stride
    guard n >= 0, n <= remaining / size else { throw damaged("bad array length \(n)") }
    let source = buf.baseAddress.map { $0 + at }
    at += n * size
    return [T](unsafeUninitializedCapacity: n) { out, count in
      if n > 0, let source { UnsafeMutableRawPointer(out.baseAddress!).copyMemory(from: source, byteCount: n * size) }
      count = n
    }
  }

  mutating func bitmap() throws(SnapshotError) -> Bitmap {
    var b = Bitmap()
    b.words = try raw()
    return b
  }

  mutating func posting() throws(SnapshotError) -> PostingSet {
    var p = PostingSet()
    p.count = try nonNegative()
    p.ids = try raw()
    if try flag() { p.bits = try bitmap() }
    return p
  }

  mutating func postings() throws(SnapshotError) -> [PostingSet] {
    let n = try count()
    var list: [PostingSet] = []
    list.reserveCapacity(n)
    for _ in 0..<n { list.append(try posting()) }
    return list
  }

  mutating func index() throws(SnapshotError) -> SegmentIndex {
    var x = SegmentIndex()
    x.universe = try nonNegative()
    x.alive = try bitmap()
    let columns = SegmentIndex.Column.allCases.count
    guard try int() == columns else { throw damaged("the index has other columns") }
    x.dictionaries = []
    for _ in 0..<columns { x.dictionaries.append(ValueDictionary(values: try strings())) }
    for c in 0..<columns { x.codes[c] = try raw() }
    for c in 0..<columns { x.postings[c] = try postings() }
    x.ages = try raw()
    x.agePostings = try postings()
    x.interestDictionary = ValueDictionary(values: try strings())
    let n = try count()
    x.interestCodes.reserveCapacity(n)
    for _ in 0..<n {
      let k = try count()
      var codes: [UInt32] = []
      codes.reserveCapacity(k)
      for _ in 0..<k { codes.append(UInt32(truncatingIfNeeded: try uint())) }
      x.interestCodes.append(codes)
    }
    x.interestPostings = try postings()
    let incomes = try count()
    x.incomeNumbers = []
    for _ in 0..<incomes { x.incomeNumbers.append(try flag() ? Int64(try int()) : nil) }
    x.created = try raw()
    x.seen = try raw()
    x.cohort = try bitmap()
    let u = x.universe
    guard x.codes.allSatisfy({ $0.count == u }), x.ages.count == u, x.interestCodes.count == u, x.created.count == u,
      x.seen.count == u, x.agePostings.count == SegmentIndex.maxAge + 1,
      zip(x.postings, x.dictionaries).allSatisfy({ $0.count <= $1.count }), x.interestPostings.count <= x.interestDictionary.count
    else { throw damaged("the index's columns do not fit together") }
    return x
  }

  mutating func record() throws(SnapshotError) -> Record {
    var r = Record(cookie: try string())
    r.email = try optional()
    r.phoneNumber = try optional()
    r.location = Location(state: try optional(), country: try optional(), city: try optional())
    let gender = try optional(), income = try optional(), education = try optional()
    if try flag() { r.createdAt = Timestamp(seconds: Int64(try int())) }
    let age: Int? = try flag() ? try int() : nil
    r.demographics = Demographics(age: age, gender: gender, income: income, education: education)
    r.interests = try strings()
    return r
  }
}
