import AudienceCore

/// Reads a `record_batches` row's `records` as `RecordBatchRows` writes them (strings without
/// escapes) straight from the bytes, with the core's `PlainJSON`: a start-up replay reads every
/// stored record. Declines (nil) anything else, such as a string with an escape, which
/// `RecordBatches.decode` then parses as general JSON.
struct RecordBatchReader {
  private var p: PlainJSON

  private init(_ b: UnsafeBufferPointer<UInt8>) { p = PlainJSON(b) }

  static func read(_ text: UnsafeBufferPointer<UInt8>) -> [StoredRecord]? {
    var r = RecordBatchReader(text)
    var out: [StoredRecord] = []
    guard r.p.take("[") else { return nil }
    if r.p.take("]") { return r.p.next() == nil ? out : nil }
    repeat {
      guard let record = r.record() else { return nil }
      out.append(record)
    } while r.p.take(",")
    return r.p.take("]") && r.p.next() == nil ? out : nil
  }

  private static func string(_ bytes: PlainJSON.Bytes) -> String { String(decoding: bytes, as: UTF8.self) }

  private mutating func string() -> String? { p.string().map(Self.string) }

  /// A string or null; `.none` when it is neither.
  private mutating func optionalString() -> String?? {
    if p.null() { return .some(nil) }
    guard let s = string() else { return .none }
    return .some(s)
  }

  /// 32 hex digits.
  private mutating func contentID() -> ContentID? {
    guard let s = p.string(), s.count == 32 else { return nil }
    var halves: (UInt64, UInt64) = (0, 0)
    for k in 0..<32 {
      let c = s[k]
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
    guard p.take("["), let seq = p.integer(), p.take(",") else { return nil }
    guard let created = string(), let createdAt = Timestamp(parsing: created), p.take(",") else { return nil }
    guard let contentID = contentID(), p.take(","), let cookie = string(), p.take(",") else { return nil }
    guard let email = optionalString(), p.take(","), let phone = optionalString(), p.take(",") else { return nil }
    guard let state = optionalString(), p.take(","), let country = optionalString(), p.take(",") else { return nil }
    guard let city = optionalString(), p.take(",") else { return nil }
    var age: Int? = nil
    if !p.null() {
      guard let n = p.integer() else { return nil }
      age = Int(n)
    }
    guard p.take(","), let gender = optionalString(), p.take(","), let income = optionalString(), p.take(",") else { return nil }
    guard let education = optionalString(), p.take(","), p.take("[") else { return nil }
    var interests: [String] = []
    if !p.take("]") {
      repeat {
        guard let s = string() else { return nil }
        interests.append(s)
      } while p.take(",")
      guard p.take("]") else { return nil }
    }
    guard p.take("]") else { return nil }
    let record = Record(
      cookie: cookie, email: email, phoneNumber: phone, createdAt: createdAt,
      location: Location(state: state, country: country, city: city),
      demographics: Demographics(age: age, gender: gender, income: income, education: education), interests: interests)
    return StoredRecord(seq: UInt64(bitPattern: seq), contentID: contentID, record: record)
  }
}
