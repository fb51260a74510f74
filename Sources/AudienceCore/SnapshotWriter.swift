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

  /// Starts a section holding half of an array of `count` slots (`SnapshotReader.half`): the
  /// first half has `count / 2`, the second the rest.
  /// - Returns: the slots the section holds.
  mutating func half(of count: Int, second: Bool) -> Range<Int> {
    let slots = second ? (count / 2)..<count : 0..<(count / 2)
    int(slots.lowerBound)
    int(slots.count)
    int(count)
    return slots
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

  mutating func strings(_ list: some Collection<String>) {
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
  mutating func member(_ value: String, of list: IdentifierList) {
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
    for source in p.interests {
      string(source.spelling)
      key(source.key, usually: p.last)
      int(source.position)
      // The folded form is always the spelling's (`InterestSet`): the flag saying otherwise,
      // kept in the format, is never set.
      flag(false)
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
    // Values no profile holds (an erased person's) are not written (SegmentIndex+Scrub.swift).
    let values = x.scrubbedValues()
    int(values.columns.count)
    for v in values.columns { strings(v) }
    for c in x.codes { raw(c) }
    for p in x.postings { postings(p) }
    raw(x.ages)
    postings(x.agePostings)
    strings(values.interests)
    int(x.interestCodes.count)
    for codes in x.interestCodes {
      int(codes.count)
      for c in codes { uint(UInt64(c)) }
    }
    postings(x.interestPostings)
    int(values.incomeNumbers.count)
    for n in values.incomeNumbers {
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
