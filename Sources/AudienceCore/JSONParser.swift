/// Why a text is not JSON, and where (1-based column).
public struct JSONParseError: Error, Hashable, Sendable, CustomStringConvertible {
  public var column: Int
  public var message: String
  public var description: String { "invalid JSON at column \(column): \(message)" }
}

extension JSONValue {
  /// Parses one JSON document (RFC 8259), nested at most 64 deep.
  /// - Parameters:
  ///   - text: the document.
  public init(parsing text: String) throws(JSONParseError) {
    try self.init(parsingUTF8: Array(text.utf8))
  }

  /// Parses one JSON document (RFC 8259) from its UTF-8 bytes, nested at most 64 deep.
  /// - Parameters:
  ///   - bytes: the document.
  public init(parsingUTF8 bytes: [UInt8]) throws(JSONParseError) {
    var p = JSONParser(bytes)
    p.skipSpace()
    let value = try p.value(depth: 0)
    p.skipSpace()
    guard p.i == p.b.count else { throw p.error("unexpected text after the value") }
    self = value
  }
}

private struct JSONParser {
  let b: [UInt8]
  var i = 0

  init(_ b: [UInt8]) { self.b = b }

  func error(_ message: String) -> JSONParseError { JSONParseError(column: i + 1, message: message) }

  mutating func skipSpace() {
    while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
  }

  mutating func literal(_ word: String, _ value: JSONValue) throws(JSONParseError) -> JSONValue {
    let w = Array(word.utf8)
    guard i + w.count <= b.count, Array(b[i..<(i + w.count)]) == w else { throw error("expected a value") }
    i += w.count
    return value
  }

  mutating func value(depth: Int) throws(JSONParseError) -> JSONValue {
    guard depth < 64 else { throw error("nested deeper than 64 levels") }
    guard i < b.count else { throw error("unexpected end of input") }
    switch b[i] {
    case UInt8(ascii: "{"):
      i += 1
      var members: [(String, JSONValue)] = []
      skipSpace()
      if i < b.count, b[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
      while true {
        skipSpace()
        guard i < b.count, b[i] == UInt8(ascii: "\"") else { throw error("expected a quoted key") }
        let key = try string()
        skipSpace()
        guard i < b.count, b[i] == UInt8(ascii: ":") else { throw error("expected ':' after key \"\(key)\"") }
        i += 1
        skipSpace()
        members.append((key, try value(depth: depth + 1)))
        skipSpace()
        guard i < b.count else { throw error("unexpected end of input in an object") }
        if b[i] == UInt8(ascii: ",") { i += 1; continue }
        if b[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
        throw error("expected ',' or '}'")
      }
    case UInt8(ascii: "["):
      i += 1
      var items: [JSONValue] = []
      skipSpace()
      if i < b.count, b[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
      while true {
        skipSpace()
        items.append(try value(depth: depth + 1))
        skipSpace()
        guard i < b.count else { throw error("unexpected end of input in an array") }
        if b[i] == UInt8(ascii: ",") { i += 1; continue }
        if b[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
        throw error("expected ',' or ']'")
      }
    case UInt8(ascii: "\""): return .string(try string())
    case UInt8(ascii: "t"): return try literal("true", .bool(true))
    case UInt8(ascii: "f"): return try literal("false", .bool(false))
    case UInt8(ascii: "n"): return try literal("null", .null)
    default: return try number()
    }
  }

  mutating func number() throws(JSONParseError) -> JSONValue {
    let start = i
    if i < b.count, b[i] == UInt8(ascii: "-") { i += 1 }
    var isInt = true
    while i < b.count {
      let c = b[i]
      if c >= 0x30 && c <= 0x39 { i += 1; continue }
      if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") || c == UInt8(ascii: "+")
        || (c == UInt8(ascii: "-") && i > start)
      {
        isInt = false; i += 1; continue
      }
      break
    }
    let text = String(decoding: b[start..<i], as: UTF8.self)
    if isInt, let n = Int64(text) { return .int(n) }
    if let d = Double(text), !text.isEmpty, text != "-" { return .double(d) }
    i = start
    throw error("expected a value")
  }

  mutating func hex4() throws(JSONParseError) -> UInt32 {
    guard i + 4 <= b.count, let v = UInt32(String(decoding: b[i..<(i + 4)], as: UTF8.self), radix: 16) else {
      throw error("bad \\u escape")
    }
    i += 4
    return v
  }

  mutating func string() throws(JSONParseError) -> String {
    i += 1  // opening quote
    // Nearly every string has no escape: it is made straight from the input's bytes, checked
    // once, with no copy into a buffer of its own first.
    let start = i
    var end = i
    var high: UInt8 = 0
    while end < b.count {
      let c = b[end]
      if c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") || c < 0x20 { break }
      high |= c
      end += 1
    }
    if end < b.count, b[end] == UInt8(ascii: "\"") {
      i = end + 1
      return try b.withUnsafeBufferPointer { (all) throws(JSONParseError) in
        try text(UnsafeBufferPointer(rebasing: all[start..<end]), ascii: high < 0x80)
      }
    }
    // An escape, a control character or no closing quote: byte by byte from here.
    var bytes = Array(b[start..<end])
    i = end
    while true {
      guard i < b.count else { throw error("unterminated string") }
      let c = b[i]
      i += 1
      switch c {
      case UInt8(ascii: "\""):
        return try bytes.withUnsafeBufferPointer { (all) throws(JSONParseError) in try text(all, ascii: false) }
      case UInt8(ascii: "\\"):
        guard i < b.count else { throw error("unterminated string") }
        let e = b[i]
        i += 1
        switch e {
        case UInt8(ascii: "\""): bytes.append(0x22)
        case UInt8(ascii: "\\"): bytes.append(0x5C)
        case UInt8(ascii: "/"): bytes.append(0x2F)
        case UInt8(ascii: "b"): bytes.append(0x08)
        case UInt8(ascii: "f"): bytes.append(0x0C)
        case UInt8(ascii: "n"): bytes.append(0x0A)
        case UInt8(ascii: "r"): bytes.append(0x0D)
        case UInt8(ascii: "t"): bytes.append(0x09)
        case UInt8(ascii: "u"):
          var v = try hex4()
          if (0xD800..<0xDC00).contains(v) {
            guard i + 2 <= b.count, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u") else {
              throw error("unpaired surrogate in \\u escape")
            }
            i += 2
            let low = try hex4()
            guard (0xDC00..<0xE000).contains(low) else { throw error("unpaired surrogate in \\u escape") }
            v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
          }
          guard let scalar = Unicode.Scalar(v) else { throw error("bad \\u escape") }
          bytes.append(contentsOf: Array(String(Character(scalar)).utf8))
        default: throw error("bad escape \\\(Character(Unicode.Scalar(e)))")
        }
      case 0..<0x20: throw error("control character in string")
      default: bytes.append(c)
      }
    }
  }

  /// A string of these bytes, refused when they are not UTF-8. Decoding repairs invalid UTF-8
  /// (U+FFFD), so bytes that decode to other bytes were invalid; the contiguous decoding is
  /// specialized, where `String(validating:as:)` looked up generic metadata on every string.
  func text(_ bytes: UnsafeBufferPointer<UInt8>, ascii: Bool) throws(JSONParseError) -> String {
    let s = String(decoding: bytes, as: UTF8.self)
    guard ascii || s.utf8.elementsEqual(bytes) else { throw error("string is not valid UTF-8") }
    return s
  }
}
