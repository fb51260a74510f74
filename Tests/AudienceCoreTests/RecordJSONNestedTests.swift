import Testing

@testable import AudienceCore

/// Dotted keys read where they point (`RecordJSON.nested`), built in place since a line of 40,000
/// dotted keys under one name took 37 s (each key looked up in a list, its object copied).
@Suite("Dotted JSON keys")
struct RecordJSONNestedTests {
  /// The members as they were read before: a list searched and an object copied per key.
  static func reference(_ json: JSONValue) -> JSONValue {
    var json = referenceMembers(json)
    if case .object(var members) = json, let at = members.lastIndex(where: { $0.0 == "data" }) {
      members[at].1 = referenceMembers(members[at].1)
      json = .object(members)
    }
    return json
  }

  static func referenceMembers(_ json: JSONValue) -> JSONValue {
    guard case .object(let members) = json, members.contains(where: { $0.0.contains(".") }) else { return json }
    var out: [(String, JSONValue)] = []
    func insert(_ path: ArraySlice<Substring>, _ value: JSONValue, into object: inout [(String, JSONValue)]) -> Bool {
      let key = String(path.first!)
      let at = object.lastIndex { $0.0 == key }
      if path.count == 1 {
        if at == nil { object.append((key, value)) }
        return at == nil
      }
      var inner: [(String, JSONValue)] = []
      if let at {
        switch object[at].1 {
        case .object(let existing): inner = existing
        case .null: break
        default: return false
        }
      }
      guard insert(path.dropFirst(), value, into: &inner) else { return false }
      if let at { object[at].1 = .object(inner) } else { object.append((key, .object(inner))) }
      return true
    }
    var dotted: [(String, JSONValue)] = []
    for (key, value) in members {
      if key.contains(".") { dotted.append((key, value)) } else { out.append((key, value)) }
    }
    for (key, value) in dotted {
      let path = key.split(separator: ".", omittingEmptySubsequences: false)
      if path.contains(where: \.isEmpty) || !insert(path[...], value, into: &out) { out.append((key, value)) }
    }
    return .object(out)
  }

  /// Random objects of a few keys (repeated, dotted, empty parts, nulls and objects in the way)
  /// read as before, member for member and in order.
  @Test func readAsBefore() {
    var state: UInt64 = 42
    func next(_ n: Int) -> Int {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Int((state >> 33) % UInt64(n))
    }
    let keys = ["a", "b", "data", "a.b", "a.c", "a.b.c", "b.a", "data.a", "data.a.b", ".a", "a.", "a..b", "data.b.a"]
    func value(_ depth: Int) -> JSONValue {
      switch next(depth > 1 ? 3 : 5) {
      case 0: return .null
      case 1: return .int(Int64(next(9)))
      case 2: return .string("s\(next(9))")
      default: return .object((0..<next(4)).map { _ in (keys[next(keys.count)], value(depth + 1)) })
      }
    }
    for i in 0..<5_000 {
      let json = JSONValue.object((0..<next(8)).map { _ in (keys[next(keys.count)], value(0)) })
      #expect(RecordJSON.nested(json) == Self.reference(json), "case \(i): \(json)")
    }
  }

  @Test func manyKeysUnderOneName() {
    let n = 20_000
    let json = JSONValue.object([("cookie", .string("c"))] + (0..<n).map { ("location.k\($0)", .int(Int64($0))) })
    guard case .object(let members) = RecordJSON.nested(json), members.count == 2,
      case .object(let location) = members[1].1
    else {
      Issue.record("not nested")
      return
    }
    #expect(members[1].0 == "location")
    #expect(location.count == n && location.last?.0 == "k\(n - 1)")
  }
}
