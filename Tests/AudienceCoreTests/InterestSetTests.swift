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
          set[spelling: folded] = nil
          dict[folded] = nil
          order.removeAll { $0 == folded }
        } else {
          if dict[folded] == nil { order.append(folded) }
          set[spelling: folded] = source
          dict[folded] = source
        }
        #expect(set.count == dict.count, "seed \(seed)")
        #expect(set.keys == order, "seed \(seed)")
        for k in order { #expect(set[spelling: k.uppercased()]?.position == dict[k]?.position, "seed \(seed)") }
        #expect(set[spelling: "absent"] == nil)
      }
    }
  }

  /// One entry per folded form, whatever the spelling: the earliest source is kept, with its
  /// spelling; below and past the size where the set adds an index.
  @Test func keepsTheEarliestSpellingOfEachFoldedForm() {
    for extra in [0, 30] {
      var set = InterestSet()
      for i in 0..<extra { set.keepEarliest(InterestSource(spelling: "x\(i)", key: RecordKey(createdAt: Timestamp(seconds: 0), seq: 1), position: i)) }
      func source(_ spelling: String, seq: UInt64, position: Int = 0) -> InterestSource {
        InterestSource(spelling: spelling, key: RecordKey(createdAt: Timestamp(seconds: 10), seq: seq), position: position)
      }
      set.keepEarliest(source("Gaming", seq: 5))
      set.keepEarliest(source("gaming", seq: 7))
      #expect(set[spelling: "GAMING"]?.spelling == "Gaming", "extra \(extra)")
      set.keepEarliest(source("GaMiNg", seq: 3))
      #expect(set[spelling: "gaming"]?.spelling == "GaMiNg", "extra \(extra)")
      set.keepEarliest(source("École", seq: 4))
      #expect(set[spelling: "éCOLE"]?.spelling == "École", "extra \(extra)")
      #expect(set.count == extra + 2)
      #expect(Array(set.keys.suffix(2)) == ["gaming", "école"])
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

  /// What a profile shows past its cap, kept up to date as interests are added (sorting them
  /// all for each record made a cookie of many interests quadratic), is always the newest `cap`
  /// entries: new ones, earlier sources of shown ones, a set made or changed while not kept.
  @Test func theShownInterestsAreTheNewest() async {
    await propertyCheck(count: 100, input: Gen.int(in: 0...1_000_000), Gen.int(in: 1...200)) { seed, n in
      var rng = SplitMix64(seed: UInt64(seed))
      var set = InterestSet()
      let cap = Int.random(in: 1...12, using: &rng)
      func expected() -> [String] { Array(set.values.sorted { $0.precedes($1) }.suffix(cap)).map(\.spelling) }
      for step in 0..<n {
        let name = "i\(Int.random(in: 0..<60, using: &rng))"
        // Records arrive out of order: earlier sources replace later ones.
        let key = RecordKey(createdAt: Timestamp(seconds: Int64.random(in: 0..<50, using: &rng)), seq: UInt64(step))
        switch Int.random(in: 0..<20, using: &rng) {
        case 0: set[spelling: name] = nil
        case 1: set[spelling: name] = InterestSource(spelling: name, key: key, position: 0)
        default: set.keepEarliest(InterestSource(spelling: name, key: key, position: Int.random(in: 0..<3, using: &rng)))
        }
        if Int.random(in: 0..<3, using: &rng) > 0 { set.keepShown(cap: cap) }
        #expect(set.shown(cap: cap).map(\.spelling) == expected(), "seed \(seed) step \(step)")
        #expect(set.shown(cap: cap + 1).map(\.spelling) == Array(set.values.sorted { $0.precedes($1) }.suffix(cap + 1)).map(\.spelling))
      }
    }
  }
}
