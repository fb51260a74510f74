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

  @Test(arguments: ["", "[", "[\"a\"", "[\"a\",]", "[a]", "[\"a\"] x", "{}", "[\"\\q\"]"])
  func rejectsMalformed(_ text: String) {
    #expect(StringListCoding.decode(text) == nil)
  }
}
