// A JSON line's record read straight from its bytes, for the CLI's bulk loads. Pure: no I/O.
extension RecordJSON {
  /// The record of a JSON line in the common shape, its fields as spans of `line` (valid while
  /// `line` is): `{"data": {...}}` or the bare record, each member at most once, text fields
  /// strings without escapes or null, the age a whole number in 0...130 written in digits or
  /// null, the location and demographics objects or null, the interests a list of such strings
  /// or null. False for any other line (an escape, a number where text goes, an unknown key, a
  /// member twice, a line that is not JSON...), which `record(from:)` reads instead: it reads
  /// every line, says what is wrong with a bad one, and reads these the same
  /// (`RecordJSONBytesTests`). Such a line holds no NUL (only an escape could write one).
  public static func read(_ line: UnsafeBufferPointer<UInt8>, into r: inout RawRecordBytes) -> Bool {
    var p = PlainJSON(line)
    guard p.next() == UInt8(ascii: "{") else { return false }
    // `{"data": ...` first: the wrapper, holding nothing else; any other first key: the bare record.
    var wrapper = p
    wrapper.at += 1
    if let key = wrapper.string(), PlainJSON.equal(key, "data") {
      guard wrapper.take(":"), wrapper.record(into: &r), wrapper.take("}") else { return false }
      p = wrapper
    } else {
      guard p.record(into: &r) else { return false }
    }
    return p.next() == nil
  }
}

/// What `RecordJSON.read` reads with `PlainJSON`: the record's members.
extension PlainJSON {
  /// A text field: a string (empty: absent) or null.
  mutating func text(into field: inout Bytes) -> Bool {
    if null() {
      field = .none
      return true
    }
    guard let s = string() else { return false }
    field = s
    return true
  }

  /// The age: digits (no sign, fraction or leading zero, at most 130) or null.
  mutating func age(into age: inout Int?) -> Bool {
    if null() {
      age = nil
      return true
    }
    guard let first = next(), first >= 0x30, first <= 0x39 else { return false }
    var n = 0
    var digits = 0
    while at < b.count, b[at] >= 0x30, b[at] <= 0x39 {
      n = n * 10 + Int(b[at] - 0x30)
      digits += 1
      at += 1
      guard digits <= 3 else { return false }
    }
    // "01" is not JSON; "25.0", "2e1" are doubles: `record(from:)`'s.
    guard !(first == 0x30 && digits > 1), at == b.count || (b[at] != UInt8(ascii: ".") && b[at] | 0x20 != UInt8(ascii: "e")),
      n <= 130
    else { return false }
    age = n
    return true
  }

  /// An object's members, each read by `member` (given the key), or null when `nullable`.
  mutating func object(nullable: Bool = false, _ member: (inout PlainJSON, Bytes) -> Bool) -> Bool {
    if nullable, null() { return true }
    guard take("{") else { return false }
    if take("}") { return true }
    repeat {
      guard let key = string(), take(":"), member(&self, key) else { return false }
    } while take(",")
    return take("}")
  }

  /// The record object; each member once.
  mutating func record(into r: inout RawRecordBytes) -> Bool {
    var seen = 0  // a bit per key read
    func once(_ k: Int) -> Bool {
      defer { seen |= 1 << k }
      return seen & (1 << k) == 0
    }
    return object { p, key in
      guard let k = Self.recordKeys.firstIndex(where: { Self.equal(key, $0) }), once(k) else { return false }
      switch k {
      case 0: return p.text(into: &r.cookie)
      case 1: return p.text(into: &r.email)
      case 2: return p.text(into: &r.phoneNumber)
      case 3: return p.text(into: &r.createdAt)
      case 4:
        return p.object(nullable: true) { q, key in
          guard let k = Self.locationKeys.firstIndex(where: { Self.equal(key, $0) }), once(8 + k) else { return false }
          switch k {
          case 0: return q.text(into: &r.state)
          case 1: return q.text(into: &r.country)
          default: return q.text(into: &r.city)
          }
        }
      case 5:
        return p.object(nullable: true) { q, key in
          guard let k = Self.demographicsKeys.firstIndex(where: { Self.equal(key, $0) }), once(16 + k) else { return false }
          switch k {
          case 0: return q.age(into: &r.age)
          case 1: return q.text(into: &r.gender)
          case 2: return q.text(into: &r.income)
          default: return q.text(into: &r.education)
          }
        }
      default:
        if p.null() { return true }
        guard p.take("[") else { return false }
        if p.take("]") { return true }
        repeat {
          guard let s = p.string() else { return false }
          r.interests.append(s)
        } while p.take(",")
        return p.take("]")
      }
    }
  }

  static let recordKeys: [StaticString] = ["cookie", "email", "phone_number", "created_at", "location", "demographics", "interests"]
  static let locationKeys: [StaticString] = ["state", "country", "city"]
  static let demographicsKeys: [StaticString] = ["age", "gender", "income", "education"]

  static func equal(_ bytes: Bytes, _ key: StaticString) -> Bool {
    bytes.count == key.utf8CodeUnitCount && (0..<bytes.count).allSatisfy { bytes[$0] == key.utf8Start[$0] }
  }
}
