// Records in the seed's JSON shape: the CLI reads and prints them, the MongoDB store writes them
// as its documents' `data`. Pure: no I/O.
/// Records in the original specification's JSON shape: `{"data": {...}}` or the bare object.
public enum RecordJSON {
  /// Reads one record. Errors name the field (`data.demographics.age: "abc" is not a whole number`).
  /// - Parameters:
  ///   - json: a `{"data": {...}}` document or the bare record object.
  public static func record(from json: JSONValue) throws(AudienceError) -> RawRecord {
    let json = nested(json)
    var d = json
    if let inner = json["data"] { d = inner }
    guard case .object = d else { throw .invalidField("data", "must be an object") }
    var r = RawRecord()
    r.cookie = try text(d["cookie"], "data.cookie")
    r.email = try text(d["email"], "data.email")
    r.phoneNumber = try text(d["phone_number"], "data.phone_number")
    r.createdAt = try text(d["created_at"], "data.created_at")
    if let l = d["location"], l != .null {
      guard case .object = l else { throw .invalidField("data.location", "must be an object") }
      r.state = try text(l["state"], "data.location.state")
      r.country = try text(l["country"], "data.location.country")
      r.city = try text(l["city"], "data.location.city")
    }
    if let m = d["demographics"], m != .null {
      guard case .object = m else { throw .invalidField("data.demographics", "must be an object") }
      r.age = try age(m["age"])
      r.gender = try text(m["gender"], "data.demographics.gender")
      r.income = try text(m["income"], "data.demographics.income")
      r.education = try text(m["education"], "data.demographics.education")
    }
    switch d["interests"] {
    case nil, .null?: break
    case .array(let xs)?:
      r.interests = try xs.enumerated().map { (i, x) throws(AudienceError) in try text(x, "data.interests[\(i)]") }
    case .string(let s)?: r.interests = interestList(s)
    default: throw .invalidField("data.interests", "must be a list of strings")
    }
    return try r.refusingNUL()
  }

  /// Known fields written where the record shape does not read them (`data.city` for
  /// `data.location.city`, `location` beside `data`): each is ignored, so its value would be lost
  /// without a word. One message per such member, naming where it goes.
  /// - Parameters:
  ///   - json: a `{"data": {...}}` document or the bare record object.
  public static func misplacedFields(in json: JSONValue) -> [String] {
    let json = nested(json)
    guard case .object(let top) = json else { return [] }
    var out: [String] = []
    let wrapped = json["data"] != nil
    let d: [(String, JSONValue)]
    if wrapped, case .object(let inner)? = json["data"] {
      d = inner
      for (key, value) in top
      where key != "data" && value != .null
        && (recordKeys.contains(key) || locationKeys.contains(key) || demographicsKeys.contains(key) || key == "location"
          || key == "demographics")
      {
        out.append("\(key) is beside data, not in it: it is not read")
      }
    } else {
      d = top
    }
    let prefix = wrapped ? "data." : ""
    for (key, value) in d where value != .null {
      if locationKeys.contains(key) {
        out.append("\(prefix)\(key) is not read: it goes in \(prefix)location.\(key)")
      } else if demographicsKeys.contains(key) {
        out.append("\(prefix)\(key) is not read: it goes in \(prefix)demographics.\(key)")
      }
    }
    for (group, keys, other, otherKeys) in [
      ("location", locationKeys, "demographics", demographicsKeys), ("demographics", demographicsKeys, "location", locationKeys),
    ] {
      guard case .object(let members)? = d.first(where: { $0.0 == group })?.1 else { continue }
      for (key, value) in members where value != .null && !keys.contains(key) && (otherKeys.contains(key) || recordKeys.contains(key)) {
        let home = otherKeys.contains(key) ? "\(prefix)\(other).\(key)" : "\(prefix)\(key)"
        out.append("\(prefix)\(group).\(key) is not read: it goes in \(home)")
      }
      for (key, value) in members where value != .null { caseVariant(key, at: "\(prefix)\(group).", keys) }
    }
    // Keys are matched exactly: `Email` is not `email` (a CSV header's names are not).
    func caseVariant(_ key: String, at path: String, _ known: Set<String>) {
      let lower = key.lowercased()
      if lower != key, known.contains(lower) { out.append("\(path)\(key) is not read: keys are lower case (\(lower))") }
    }
    if !wrapped { for (key, _) in top where key.lowercased() == "data" { caseVariant(key, at: "", ["data"]) } }
    for (key, value) in d where value != .null {
      caseVariant(key, at: prefix, recordKeys.union(["location", "demographics"]))
    }
    return out
  }

  /// The object with its dotted keys (`location.city`, `data.demographics.age`: what pandas'
  /// `json_normalize(...).to_json(lines=True)` writes, and the CSV headers the CLI reads) made
  /// members of nested objects, as the record shape reads them. A dotted key whose object is
  /// there already joins it (a member already there is kept); one under a member that is not an
  /// object is left as it is (and so not read).
  static func nested(_ json: JSONValue) -> JSONValue {
    var json = nestedMembers(json)
    // And inside `data` (`{"data": {"location.city": ...}}`).
    if case .object(var members) = json, let at = members.lastIndex(where: { $0.0 == "data" }) {
      members[at].1 = nestedMembers(members[at].1)
      json = .object(members)
    }
    return json
  }

  /// `nested` of one object's own members. Each member is found by its key in a dictionary, and
  /// an object is added to in place: looked up in a list and copied for each dotted key, 40,000
  /// keys under one name took 37 s.
  private static func nestedMembers(_ json: JSONValue) -> JSONValue {
    guard case .object(let members) = json, members.contains(where: { $0.0.utf8.contains(UInt8(ascii: ".")) }) else { return json }
    let out = NestedObject([])
    var dotted: [(String, JSONValue)] = []
    for (key, value) in members {
      if key.utf8.contains(UInt8(ascii: ".")) { dotted.append((key, value)) } else { out.append(key, .value(value)) }
    }
    for (key, value) in dotted {
      let path = key.split(separator: ".", omittingEmptySubsequences: false)
      if !path.contains(where: \.isEmpty), out.canInsert(path[...]) {
        out.insert(path[...], value)
      } else {
        out.append(key, .value(value))
      }
    }
    return out.json
  }

  private static let recordKeys: Set<String> = ["cookie", "email", "phone_number", "created_at", "interests"]
  private static let locationKeys: Set<String> = ["state", "country", "city"]
  private static let demographicsKeys: Set<String> = ["age", "gender", "income", "education"]

  /// Splits `"Tech;Gaming"` or `"Tech|Gaming"`.
  /// - Parameters:
  ///   - s: the list text.
  public static func splitList(_ s: String) -> [String] {
    var items: [String] = []
    s.withUTF8InPlace { listItems($0) { items.append(String(decoding: $0, as: UTF8.self)) } }
    return items
  }

  /// The items of a list separated by `;` or `|`, as spans of its UTF-8 bytes, in order; items
  /// that are only whitespace are left out. (`splitList`, and the CLI's CSV rows read from their
  /// bytes.)
  /// - Parameters:
  ///   - utf8: the list's bytes.
  ///   - item: called with each item kept (valid during the call).
  public static func listItems(_ utf8: UnsafeBufferPointer<UInt8>, _ item: (UnsafeBufferPointer<UInt8>) -> Void) {
    // The separators are ASCII, so the UTF-8 bytes can be cut without walking characters (a
    // UTF-8 continuation byte is never ASCII).
    var start = 0
    func add(_ end: Int) {
      let span = UnsafeBufferPointer(rebasing: utf8[start..<end])
      // An ASCII letter or digit decides at once; otherwise ask the characters.
      if span.contains(where: { $0 > 0x20 && $0 < 0x7F }) || !String(decoding: span, as: UTF8.self).allSatisfy(\.isWhitespace) {
        item(span)
      }
    }
    for i in utf8.indices where utf8[i] == UInt8(ascii: ";") || utf8[i] == UInt8(ascii: "|") {
      add(i)
      start = i + 1
    }
    add(utf8.count)
  }

  private static func text(_ v: JSONValue?, _ field: String) throws(AudienceError) -> String {
    switch v {
    case nil, .null?: return ""
    case .string(let s)?: return s
    case .int(let n)?: return String(n)
    case .double(let d)?:
      // A number too large to be held exactly (12345678901234567890123 became
      // "1.2345678901234568e+22") or not finite (1e400 became "inf") is refused, not rounded.
      guard d.isFinite else { throw .invalidField(field, "the number is too large; send it as a string") }
      if d == d.rounded() {
        guard abs(d) < 9_007_199_254_740_992 else { throw .invalidField(field, "the number is too large to be exact; send it as a string") }
        return String(Int64(d))
      }
      return String(d)
    default: throw .invalidField(field, "must be a string")
    }
  }

  /// A whole number written in decimal with a fraction or an exponent (`25.0`, `2.5e1`); nil
  /// for anything else (hexadecimal, words, a fraction that is not zero).
  public static func wholeDecimal(_ t: String) -> Int? {
    guard t.utf8.allSatisfy({ (0x30...0x39).contains($0) || "+-.eE".utf8.contains($0) }), let d = Double(t),
      d == d.rounded(), abs(d) < 1e9
    else { return nil }
    return Int(d)
  }

  private static func age(_ v: JSONValue?) throws(AudienceError) -> Int? {
    let field = "data.demographics.age"
    switch v {
    case nil, .null?: return nil
    case .int(let n)?:
      guard let a = Int(exactly: n), (0...130).contains(a) else { throw .invalidField(field, "\(n) is outside 0...130") }
      return a
    case .double(let d)?:
      guard d == d.rounded(), (0...130).contains(d) else { throw .invalidField(field, "\(d) is not a whole number in 0...130") }
      return Int(d)
    case .string(let s)?:
      let t = s.trimmingWhitespace()
      if t.isEmpty { return nil }
      // "25.0" as CSV reads it (pandas writes ages so when the column has gaps): decimal only.
      guard let a = Int(t) ?? wholeDecimal(t) else { throw .invalidField(field, "\"\(t.prefix(40))\" is not a whole number") }
      guard (0...130).contains(a) else { throw .invalidField(field, "\(a) is outside 0...130") }
      return a
    default: throw .invalidField(field, "must be a whole number")
    }
  }

  /// A record or profile view as `{"data": {...}}`, every field present (null when unknown).
  /// - Parameters:
  ///   - r: the record.
  public static func json(_ r: Record) -> JSONValue {
    .object([("data", data(r))])
  }

  /// The inner `data` object.
  /// - Parameters:
  ///   - r: the record.
  public static func data(_ r: Record) -> JSONValue {
    .object([
      ("cookie", .string(r.cookie)),
      ("email", .from(r.email)),
      ("phone_number", .from(r.phoneNumber)),
      ("created_at", .from(r.createdAt?.iso8601)),
      ("location", .object([("state", .from(r.location.state)), ("country", .from(r.location.country)), ("city", .from(r.location.city))])),
      ("demographics", .object([
        ("age", .from(r.demographics.age)), ("gender", .from(r.demographics.gender)),
        ("income", .from(r.demographics.income)), ("education", .from(r.demographics.education)),
      ])),
      ("interests", .array(r.interests.map { .string($0) })),
    ])
  }
}

/// An object being built from dotted keys (`RecordJSON.nested`): its members in order, the last
/// of each key found by a dictionary, and the objects that gain members held as builders.
private final class NestedObject {
  enum Member {
    case value(JSONValue)
    case object(NestedObject)
  }

  private var members: [(String, Member)] = []
  /// Where the last member of each key is.
  private var last: [String: Int] = [:]

  init(_ members: [(String, JSONValue)]) { for (key, value) in members { append(key, .value(value)) } }

  func append(_ key: String, _ member: Member) {
    last[key] = members.count
    members.append((key, member))
  }

  /// The builder of the object at member `at`, made from the object or null there (a null
  /// parent beside its dotted members is absent: pandas' json_normalize keeps the null column of
  /// a record whose `location` was null in another); nil for any other value.
  private func object(at: Int) -> NestedObject? {
    switch members[at].1 {
    case .object(let o): return o
    case .value(.object(let m)):
      let o = NestedObject(m)
      members[at].1 = .object(o)
      return o
    case .value(.null):
      let o = NestedObject([])
      members[at].1 = .object(o)
      return o
    case .value: return nil
    }
  }

  /// Whether `path` can be set: its last key is not there yet, and each key before it is absent
  /// or an object (or null). Changes no member's value (an object read becomes its builder).
  func canInsert(_ path: ArraySlice<Substring>) -> Bool {
    guard let at = last[String(path.first!)] else { return true }
    if path.count == 1 { return false }
    if case .value(.null) = members[at].1 { return true }
    return object(at: at)?.canInsert(path.dropFirst()) ?? false
  }

  /// Sets `path` to `value` (`canInsert` said it can be).
  func insert(_ path: ArraySlice<Substring>, _ value: JSONValue) {
    let key = String(path.first!)
    if path.count == 1 { return append(key, .value(value)) }
    if let at = last[key], let o = object(at: at) { return o.insert(path.dropFirst(), value) }
    let o = NestedObject([])
    append(key, .object(o))
    o.insert(path.dropFirst(), value)
  }

  var json: JSONValue {
    .object(members.map { key, member in
      switch member {
      case .value(let v): (key, v)
      case .object(let o): (key, o.json)
      }
    })
  }
}
