import Testing

@testable import AudienceStore

@Suite("StringListCoding")
struct StringListCodingTests {
  @Test(arguments: [
    [], ["Tech"], ["Tech", "Gaming"], ["quote \" and \\ backslash"], ["line\nbreak", "tab\t"], ["日本", "🎮 games", "é"],
    ["", " "], ["\u{01}control"],
  ])
  func roundTrips(_ values: [String]) {
    let text = StringListCoding.encode(values)
    #expect(StringListCoding.decode(text) == values)
  }

  @Test func writesPlainJSON() {
    #expect(StringListCoding.encode(["Tech", "Gaming"]) == #"["Tech","Gaming"]"#)
    #expect(StringListCoding.encode(["a\"b\\c\n\t\r\u{01}\u{1f}é", "x"]) == #"["a\"b\\c\n\t\r\u0001\u001fé","x"]"#)
    var bytes: [UInt8] = [0x41]
    StringListCoding.encode(["Tech"], into: &bytes)
    #expect(bytes == Array(#"A["Tech"]"#.utf8))
  }

  /// Every ASCII byte at every position of strings long enough for the writer's eight-bytes-at-
  /// a-time path, between ASCII and multi-byte neighbours: escaped as a byte-by-byte writer does.
  @Test func escapesEachByteAtEachPosition() {
    func expected(_ s: String) -> String {
      var out = "[\""
      for u in s.unicodeScalars {
        switch u.value {
        case 0x22: out += "\\\""
        case 0x5C: out += "\\\\"
        case 0x0A: out += "\\n"
        case 0x09: out += "\\t"
        case 0x0D: out += "\\r"
        case 0..<0x20: out += "\\u00" + (u.value < 0x10 ? "0" : "") + String(u.value, radix: 16)
        default: out.unicodeScalars.append(u)
        }
      }
      return out + "\"]"
    }
    for filler in ["a", "é"] {
      for length in [7, 8, 9, 16, 17, 23] {
        for position in 0..<length {
          for byte in UInt8(0)...0x7F {
            var scalars = Array(repeating: Character(filler), count: length)
            scalars[position] = Character(Unicode.Scalar(byte))
            let s = String(scalars)
            let text = StringListCoding.encode([s])
            guard text == expected(s), StringListCoding.decode(text) == [s] else {
              Issue.record("byte \(byte) at \(position) of \(length) (\(filler)): \(text)")
              return
            }
          }
        }
      }
    }
  }

  @Test(arguments: ["", "[", "[\"a\"", "[\"a\",]", "[a]", "[\"a\"] x", "{}", "[\"\\q\"]"])
  func rejectsMalformed(_ text: String) {
    #expect(StringListCoding.decode(text) == nil)
  }
}
