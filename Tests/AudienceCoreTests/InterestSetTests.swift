import PropertyBased
import Testing

@testable import AudienceCore

@Suite("InterestSet")
struct InterestSetTests {
  /// The set behaves as the dictionary it replaced, below and past the size where it adds an
  /// index, and keeps insertion order.
  @Test func actsAsADictionaryInInsertionOrder() async {
    await propertyCheck(count: 200, input: Gen.int(in: 0...1_000_000), Gen.int(in: 1...80)) { seed, n in
      var rng = SplitMix64(seed: UInt64(seed))
      var set = InterestSet()
      var dict: [String: InterestSource] = [:]
      var order: [String] = []
      for step in 0..<n {
        let folded = "i\(Int.random(in: 0..<40, using: &rng))"
        let source = InterestSource(spelling: folded.uppercased(), key: RecordKey(createdAt: Timestamp(seconds: 0), seq: UInt64(step)), position: step)
        if Int.random(in: 0..<8, using: &rng) == 0 {
          set[folded] = nil
          dict[folded] = nil
          order.removeAll { $0 == folded }
        } else {
          if dict[folded] == nil { order.append(folded) }
          set[folded] = source
          dict[folded] = source
        }
        #expect(set.count == dict.count, "seed \(seed)")
        #expect(set.keys == order, "seed \(seed)")
        for k in order { #expect(set[k]?.position == dict[k]?.position, "seed \(seed)") }
        #expect(set["absent"] == nil)
      }
    }
  }

  @Test func asciiFastLowercasedIsLowercased() {
    for s in ["", "gaming", "Gaming", "AI", "ÉCOLE", "Straße", "İstanbul", "MiXeD 123 _-", "ΣΑΣ", "a\u{0301}B"] {
      #expect(s.asciiFastLowercased == s.lowercased(), "\(s)")
    }
    var rng = SplitMix64(seed: 7)
    for _ in 0..<2000 {
      let bytes = (0..<Int.random(in: 0..<20, using: &rng)).map { _ in UInt8.random(in: 0x20..<0x7F, using: &rng) }
      let s = String(decoding: bytes, as: UTF8.self)
      #expect(s.asciiFastLowercased == s.lowercased(), "\(s)")
    }
  }
}
