import PropertyBased
import Testing

@testable import AudienceCore

/// A key whose hash the test chooses: few distinct hashes make long probe chains and full
/// hash collisions, and hashes sharing their low bits land in the same bucket.
private struct ChosenHashKey: DenseTableKey {
  var name: Int
  var tableHash: Int
}

@Suite("DenseTable")
struct DenseTableTests {
  /// Inserts, in-place updates, removals (which move the last entry) and sweeps of removed
  /// buckets, checked step by step against a Dictionary; hashes collide often on purpose.
  @Test func actsAsADictionary() async {
    await propertyCheck(count: 150, input: Gen.int(in: 0...1_000_000), Gen.int(in: 1...600)) { seed, n in
      var rng = SplitMix64(seed: UInt64(seed))
      var table = DenseTable<ChosenHashKey, [Int]>()
      var dict: [Int: [Int]] = [:]
      let names = Int.random(in: 1...200, using: &rng)
      let hashes = Int.random(in: 1...64, using: &rng)
      func key(_ name: Int) -> ChosenHashKey {
        // Distinct names may share a hash; the upper bits vary too, for the bucket tags.
        ChosenHashKey(name: name, tableHash: (name % hashes) &* 0x1F35_3F3B_6E2D_4C2B | (name % hashes))
      }
      for step in 0..<n {
        let name = Int.random(in: 0..<names, using: &rng)
        switch Int.random(in: 0..<6, using: &rng) {
        case 0:
          table[key(name)] = nil
          dict[name] = nil
        case 1:
          // In place, through the modify accessor, as the graph links an identifier.
          table[key(name)]?.append(step)
          dict[name]?.append(step)
        case 2:
          if Int.random(in: 0..<4, using: &rng) == 0 {
            table.removeAll { k, _ in k.name % 3 == step % 3 }
            dict = dict.filter { $0.key % 3 != step % 3 }
          }
        default:
          table[key(name)] = [step]
          dict[name] = [step]
        }
        #expect(table.count == dict.count, "seed \(seed) step \(step)")
      }
      for name in 0..<names { #expect(table[key(name)] == dict[name], "seed \(seed) name \(name)") }
      var seen: [Int: [Int]] = [:]
      for (k, v) in table { seen[k.name] = v }
      #expect(seen == dict, "seed \(seed)")
      #expect(Array(table.allValues).count == dict.count)
    }
  }

  /// Iteration follows insertion order while nothing is removed, and a reserved table holds
  /// its entries as an unreserved one does.
  @Test func keepsInsertionOrderAndReserves() {
    var plain = DenseTable<ContentID, UInt64>()
    var reserved = DenseTable<ContentID, UInt64>()
    reserved.reserveCapacity(50_000)
    let ids = (0..<50_000).map { ContentID(high: UInt64($0) &* 31, low: UInt64($0) ^ 0xABCD) }
    for (seq, id) in ids.enumerated() {
      plain[id] = UInt64(seq)
      reserved[id] = UInt64(seq)
    }
    #expect(plain.map { $0.key } == ids)
    #expect(reserved.map { $0.value } == (0..<50_000).map(UInt64.init))
    #expect(plain[ContentID(high: 1, low: 1)] == nil)
    #expect(ids.allSatisfy { plain[$0] == reserved[$0] })
  }

  /// Identifiers compare by string, not only by hash, and the identity graph's table reads
  /// and writes by string.
  @Test func identifierTableIsKeyedByTheString() {
    var table = IdentifierTable<Int>()
    for i in 0..<1000 { table["cookie-\(i)"] = i }
    table["cookie-7"] = nil
    #expect(table.count == 999)
    #expect(table["cookie-7"] == nil)
    #expect(table["cookie-999"] == 999)
    #expect(table[Identifier("cookie-500")] == 500)
    #expect(Identifier("a") != Identifier("b"))
    #expect(Set(table.map { $0.key }).count == 999)
  }
}
