import Testing

@testable import AudienceCore

/// JSON strings, read straight from the line's bytes when they hold no escape and byte by byte
/// when they do: both read every string as written.
@Suite("JSON strings")
struct JSONStringTests {
  static let pieces: [String] = [
    "a", "Tech", " ", "Ünïcödé", "日本", "🙂", "\u{301}", "@", "-", ".", "é",
  ]

  /// A JSON literal for `s`, each character written raw or escaped at random.
  static func literal(_ s: String, _ rng: inout SplitMix64) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
      let escape = rng.next() % 3 == 0
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += rng.next() % 2 == 0 ? "\\n" : "\\u000a"
      case "\t": out += "\\t"
      case "/": out += escape ? "\\/" : "/"
      default:
        if scalar.value < 0x20 {
          out += "\\u00" + String(scalar.value >> 4, radix: 16) + String(scalar.value & 0xF, radix: 16)
        } else if escape, scalar.value >= 0x10000 {
          let v = scalar.value - 0x10000
          out += "\\u" + String(0xD800 + (v >> 10), radix: 16) + "\\u" + String(0xDC00 + (v & 0x3FF), radix: 16)
        } else if escape {
          out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16)
        } else {
          out.unicodeScalars.append(scalar)
        }
      }
    }
    return out + "\""
  }

  /// A member written twice: the last value, as Python's `json` reads it (the original
  /// specification's files come from it), both for a plain value and for a record's field.
  @Test func aMemberWrittenTwiceHasItsLastValue() throws {
    #expect(try JSONValue(parsing: #"{"k": 1, "k": 2}"#)["k"] == .int(2))
    let record = try RecordJSON.record(from: JSONValue(parsing: #"{"data": {"cookie": "a", "cookie": "b"}}"#))
    #expect(record.cookie == "b")
  }

  @Test func stringsReadAsWritten() throws {
    var rng = SplitMix64(seed: 51)
    let specials = ["\"", "\\", "\n", "\t", "/", "\u{1}", "\u{1F}"]
    for round in 0..<2_000 {
      var s = ""
      for _ in 0..<Int(rng.next() % 12) {
        // Mostly plain text, so that many strings take the fast path.
        s += rng.next() % 5 == 0 ? specials[Int(rng.next() % UInt64(specials.count))] : Self.pieces[Int(rng.next() % UInt64(Self.pieces.count))]
      }
      let json = "{\"k\": " + Self.literal(s, &rng) + ", \"n\": [" + Self.literal(s, &rng) + "]}"
      let value = try JSONValue(parsing: json)
      #expect(value["k"] == .string(s), "round \(round): \(json)")
      #expect(value["n"] == .array([.string(s)]), "round \(round): \(json)")
    }
  }

  @Test(arguments: [
    ("\"abc", "unterminated string"), ("\"ab\\", "unterminated string"), ("\"a\u{1}b\"", "control character in string"),
    ("\"a\\ud800b\"", "unpaired surrogate in \\u escape"), ("\"a\\qb\"", "bad escape \\q"), ("\"a\nb\"", "control character in string"),
  ])
  func brokenStringsSayWhy(json: String, message: String) {
    #expect(throws: JSONParseError.self) { try JSONValue(parsing: json) }
    do {
      _ = try JSONValue(parsing: json)
    } catch {
      #expect(error.message == message, "\(json)")
    }
  }
}
