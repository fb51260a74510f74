// JSON values with ordered keys: the CLI reads and prints them, the server reads its
// interest-category file with them. Pure: no I/O.
/// A JSON value with ordered object keys: what the CLI reads (records) and prints (results).
public enum JSONValue: Hashable, Sendable {
  case null
  case bool(Bool)
  case int(Int64)
  case double(Double)
  case string(String)
  case array([JSONValue])
  case object([(String, JSONValue)])

  public static func == (a: JSONValue, b: JSONValue) -> Bool {
    switch (a, b) {
    case (.null, .null): true
    case (.bool(let x), .bool(let y)): x == y
    case (.int(let x), .int(let y)): x == y
    case (.double(let x), .double(let y)): x == y
    case (.string(let x), .string(let y)): x == y
    case (.array(let x), .array(let y)): x == y
    case (.object(let x), .object(let y)): x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    default: false
    }
  }

  public func hash(into h: inout Hasher) { h.combine(serialized()) }

  /// The member `key` of an object, nil otherwise.
  /// A member's value; of a member written twice, the last (as Python's `json`, which wrote the
  /// original specification's files, reads it).
  public subscript(key: String) -> JSONValue? {
    guard case .object(let members) = self else { return nil }
    return members.last { $0.0 == key }?.1
  }

  /// An optional string as JSON (null when nil).
  public static func from(_ s: String?) -> JSONValue { s.map { .string($0) } ?? .null }
  /// An optional integer as JSON (null when nil).
  public static func from(_ n: Int?) -> JSONValue { n.map { .int(Int64($0)) } ?? .null }

  /// Compact JSON text.
  public func serialized() -> String {
    var out = ""
    write(to: &out, indent: nil, depth: 0)
    return out
  }

  /// Indented JSON text for people.
  public func pretty() -> String {
    var out = ""
    write(to: &out, indent: "  ", depth: 0)
    return out
  }

  private func write(to out: inout String, indent: String?, depth: Int) {
    func newline(_ d: Int) {
      guard let indent else { return }
      out += "\n" + String(repeating: indent, count: d)
    }
    switch self {
    case .null: out += "null"
    case .bool(let b): out += b ? "true" : "false"
    case .int(let n): out += String(n)
    case .double(let d): out += d.isFinite ? (d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) + ".0" : String(d)) : "null"
    case .string(let s): Self.quote(s, into: &out)
    case .array(let xs):
      if xs.isEmpty { out += "[]"; return }
      out += "["
      for (i, x) in xs.enumerated() {
        if i > 0 { out += indent == nil ? "," : "," }
        newline(depth + 1)
        x.write(to: &out, indent: indent, depth: depth + 1)
      }
      newline(depth)
      out += "]"
    case .object(let members):
      if members.isEmpty { out += "{}"; return }
      out += "{"
      for (i, (k, v)) in members.enumerated() {
        if i > 0 { out += "," }
        newline(depth + 1)
        Self.quote(k, into: &out)
        out += indent == nil ? ":" : ": "
        v.write(to: &out, indent: indent, depth: depth + 1)
      }
      newline(depth)
      out += "}"
    }
  }

  static func quote(_ s: String, into out: inout String) {
    out += "\""
    for scalar in s.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      case _ where scalar.value < 0x20:
        let hex = String(scalar.value, radix: 16)
        out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
      default: out.unicodeScalars.append(scalar)
      }
    }
    out += "\""
  }
}
