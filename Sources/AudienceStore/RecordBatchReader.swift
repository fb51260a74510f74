import AudienceCore

/// Reads a `record_batches` row's `records` as `RecordBatchRows` writes them (no spaces, no
/// escapes) straight from the bytes: a start-up replay reads every stored record. Declines
/// (nil) anything else, such as a string with an escape, which `RecordBatches.decode` then parses
/// as general JSON.
struct RecordBatchReader {
  private let b: UnsafeBufferPointer<UInt8>
  private var i = 0

  private init(_ b: UnsafeBufferPointer<UInt8>) { self.b = b }

  static func read(_ text: UnsafeBufferPointer<UInt8>) -> [StoredRecord]? {
    var r = RecordBatchReader(text)
    var out: [StoredRecord] = []
    guard r.take(0x5B) else { return nil }  // [
    if r.take(0x5D) { return r.i == text.count ? out : nil }  // ]
    while true {
      guard let record = r.record() else { return nil }
      out.append(record)
      if r.take(0x2C) { continue }  // ,
      return r.take(0x5D) && r.i == text.count ? out : nil
    }
  }

  private mutating func take(_ c: UInt8) -> Bool {
    guard i < b.count, b[i] == c else { return false }
    i += 1
    return true
  }

  /// A string without escapes, as its bytes' range.
  private mutating func span() -> Range<Int>? {
    guard take(0x22) else { return nil }
    let start = i
    while i < b.count {
      let c = b[i]
      if c == 0x22 {
        i += 1
        return start..<(i - 1)
      }
      if c == 0x5C || c < 0x20 { return nil }
      i += 1
    }
    return nil
  }

  private mutating func string() -> String? {
    guard let s = span() else { return nil }
    return String(decoding: UnsafeBufferPointer(rebasing: b[s]), as: UTF8.self)
  }

  private mutating func null() -> Bool {
    guard i + 4 <= b.count, b[i] == 0x6E, b[i + 1] == 0x75, b[i + 2] == 0x6C, b[i + 3] == 0x6C else { return false }
    i += 4
    return true
  }

  /// A string or null; `.none` when it is neither.
  private mutating func optionalString() -> String?? {
    if null() { return .some(nil) }
    guard let s = string() else { return .none }
    return .some(s)
  }

  /// Decimal digits, with a minus sign at most (what `JSONWriter.decimal` writes).
  private mutating func integer() -> Int64? {
    let negative = take(0x2D)
    var v: Int64 = 0
    let start = i
    while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
      let (m, o1) = v.multipliedReportingOverflow(by: 10)
      let (s, o2) = m.addingReportingOverflow(Int64(b[i] - 0x30))
      guard !o1, !o2 else { return nil }
      v = s
      i += 1
    }
    guard i > start, i - start == 1 || b[start] != 0x30 else { return nil }
    return negative ? -v : v
  }

  private mutating func hex() -> ContentID? {
    guard let s = span(), s.count == 32 else { return nil }
    var halves: (UInt64, UInt64) = (0, 0)
    for k in 0..<32 {
      let c = b[s.lowerBound + k]
      let d: UInt64
      switch c {
      case 0x30...0x39: d = UInt64(c - 0x30)
      case 0x61...0x66: d = UInt64(c - 0x57)
      case 0x41...0x46: d = UInt64(c - 0x37)
      default: return nil
      }
      if k < 16 { halves.0 = halves.0 << 4 | d } else { halves.1 = halves.1 << 4 | d }
    }
    return ContentID(high: halves.0, low: halves.1)
  }

  private mutating func record() -> StoredRecord? {
    guard take(0x5B), let seq = integer(), take(0x2C) else { return nil }
    guard let time = span(), take(0x2C) else { return nil }
    let created = String(decoding: UnsafeBufferPointer(rebasing: b[time]), as: UTF8.self)
    guard let createdAt = Timestamp(parsing: created) else { return nil }
    guard let contentID = hex(), take(0x2C), let cookie = string(), take(0x2C) else { return nil }
    guard let email = optionalString(), take(0x2C), let phone = optionalString(), take(0x2C) else { return nil }
    guard let state = optionalString(), take(0x2C), let country = optionalString(), take(0x2C) else { return nil }
    guard let city = optionalString(), take(0x2C) else { return nil }
    var age: Int? = nil
    if !null() {
      guard let n = integer() else { return nil }
      age = Int(n)
    }
    guard take(0x2C), let gender = optionalString(), take(0x2C), let income = optionalString(), take(0x2C) else { return nil }
    guard let education = optionalString(), take(0x2C), take(0x5B) else { return nil }
    var interests: [String] = []
    if !take(0x5D) {
      while true {
        guard let s = string() else { return nil }
        interests.append(s)
        if take(0x2C) { continue }
        guard take(0x5D) else { return nil }
        break
      }
    }
    guard take(0x5D) else { return nil }
    let record = Record(
      cookie: cookie, email: email, phoneNumber: phone, createdAt: createdAt,
      location: Location(state: state, country: country, city: city),
      demographics: Demographics(age: age, gender: gender, income: income, education: education), interests: interests)
    return StoredRecord(seq: UInt64(bitPattern: seq), contentID: contentID, record: record)
  }
}
