import Testing

@testable import AudienceCore

@Suite("Value dictionary")
struct ValueDictionaryTests {
  /// The same spelling gets the same code every time, a canonically equivalent spelling (NFC
  /// against NFD) the same code too (as `String` equality says), and a dictionary rebuilt from
  /// its values (a snapshot) gives every spelling its code again.
  @Test func spellingsKeepTheirCodes() {
    var d = ValueDictionary()
    let spellings = ["USA", "usa", "Los Angeles", "Caf\u{E9}", "Cafe\u{301}", "", "a-value-longer-than-sixteen-bytes", "\u{1F600}"]
    let first = spellings.map { d.code(for: $0) }
    #expect(first == [1, 2, 3, 4, 4, 5, 6, 7])
    #expect(spellings.map { d.code(for: $0) } == first)
    var rebuilt = ValueDictionary(values: d.values)
    #expect(spellings.map { rebuilt.code(for: $0) } == first)
    #expect(d.codes(folded: "usa") == [1, 2])
  }

  /// Every byte counts in the cheap hash, at every length: a spelling differing from another in
  /// one byte hashes differently (the last, partial word is read from the end).
  @Test func everyByteChangesTheHash() {
    for length in 0...40 {
      let base = String(repeating: "a", count: length)
      var hashes: Set<Int> = [SpellingKey(base).tableHash]
      for at in 0..<length {
        var bytes = Array(base.utf8)
        bytes[at] = UInt8(ascii: "b")
        hashes.insert(SpellingKey(String(decoding: bytes, as: UTF8.self)).tableHash)
      }
      #expect(hashes.count == length + 1, "length \(length)")
      #expect(SpellingKey(base + "a").tableHash != SpellingKey(base).tableHash, "length \(length)")
    }
  }
}
