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

  /// The start of a section holding half of an array (`SnapshotWriter.half`): its first index,
  /// its count, and the count of both halves; the first half holds `all / 2`, the second the rest.
  mutating func half() throws(SnapshotError) -> (first: Int, count: Int, all: Int) {
    let first = try nonNegative()
    let slots = try count()
    let all = try nonNegative()
    // Of one slot, both halves start at 0 (the first empty): either reading must fit.
    let fits = (first == 0 && slots == all / 2) || (first == all / 2 && first + slots == all)
    guard fits, all <= 2 * slots + 1 else { throw damaged("slots \(first)..<\(first + slots) are not a half of \(all)") }
    return (first, slots, all)
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

  /// A list written by `strings(_:)`, read without an array block for a list of one.
  mutating func identifiers() throws(SnapshotError) -> IdentifierList {
    let n = try count()
    var list = IdentifierList()
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

  mutating func member(of list: IdentifierList) throws(SnapshotError) -> String {
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
    let cookies = try identifiers()
    let emails = try identifiers()
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
      // A folded form other than the spelling's was never written (the flag is kept in the
      // format); one would be read and the spelling's taken.
      if try flag() { _ = try string() }
      p.interests.keepEarliest(source)
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
      var codes = InterestCodes()
      for _ in 0..<k { codes.insert(UInt32(truncatingIfNeeded: try uint())) }
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
      zip(x.postings, x.dictionaries).allSatisfy({ $0.count <= $1.count }), x.interestPostings.count <= x.interestDictionary.count,
      x.incomeNumbers.count >= x.postings[SegmentIndex.Column.income.rawValue].count
    else { throw damaged("the index's columns do not fit together") }
    // Every code must name a posting set (the index updates them by code).
    guard zip(x.codes, x.postings).allSatisfy({ Int($0.max() ?? 0) < max($1.count, 1) }),
      x.ages.allSatisfy({ $0 == SegmentIndex.noAge || Int($0) < x.agePostings.count }),
      x.interestCodes.allSatisfy({ Int($0.max() ?? 0) < max(x.interestPostings.count, 1) })
    else { throw damaged("the index holds a code without a value") }
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
