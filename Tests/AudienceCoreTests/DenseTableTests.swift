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

  /// A growth doubles the buckets: after each insertion the table is at most half and, past
  /// its first size, at least a quarter full (it quadrupled before, twice the memory).
  @Test func growsByDoubling() {
    var table = DenseTable<ContentID, UInt64>()
    var sizes: [Int] = []
    for i in 0..<100_000 {
      table[ContentID(high: UInt64(i) &* 0x9E37_79B9_7F4A_7C15, low: UInt64(i))] = UInt64(i)
      let n = table.count, buckets = table.bucketCapacity
      #expect(n * 2 <= buckets, "\(n) entries in \(buckets) buckets")
      if buckets > 16 { #expect(n * 4 >= buckets, "\(n) entries in \(buckets) buckets") }
      if sizes.last != buckets { sizes.append(buckets) }
    }
    #expect(zip(sizes, sizes.dropFirst()).allSatisfy { $1 == $0 * 2 }, "\(sizes)")
  }

  /// An access through the modify accessor that ends with an error still removes or inserts
  /// what it set (without the fix the cleared entry stayed indexed and the next read trapped).
  @Test func anAccessEndingInAnErrorKeepsTheTableWhole() {
    struct Stop: Error {}
    func clear(_ v: inout [Int]?) throws { v = nil; throw Stop() }
    func set(_ v: inout [Int]?) throws { v = [7]; throw Stop() }
    func id(_ i: Int) -> ContentID { ContentID(high: UInt64(i), low: 0) }
    var table = DenseTable<ContentID, [Int]>()
    for i in 0..<100 { table[id(i)] = [i] }
    #expect(throws: Stop.self) { try clear(&table[id(5)]) }
    #expect(throws: Stop.self) { try set(&table[id(500)]) }
    #expect(table.count == 100)
    #expect(table[id(5)] == nil)
    #expect(table[id(500)] == [7])
    for i in 0..<100 where i != 5 { #expect(table[id(i)] == [i]) }
    #expect(table.map { $0.value }.count == 100)
  }

  /// Identifiers compare by string, not only by hash, and the identity graph's table reads
  /// and writes by string.
  /// A copy is a value: inserts, removals and growth of one (its buckets are `ZeroedWords`,
  /// shared until written) leave the other as it was.
  @Test func copiesAreIndependent() {
    var a = DenseTable<ContentID, UInt64>()
    for i in 0..<1000 { a[ContentID(high: UInt64(i), low: 7)] = UInt64(i) }
    let snapshot = a
    var b = a
    for i in 0..<500 { b[ContentID(high: UInt64(i), low: 7)] = nil }  // tombstones in b's buckets
    for i in 1000..<5000 { a[ContentID(high: UInt64(i), low: 7)] = UInt64(i) }  // a grows
    #expect(snapshot.count == 1000 && b.count == 500 && a.count == 5000)
    for i in 0..<1000 {
      let key = ContentID(high: UInt64(i), low: 7)
      #expect(snapshot[key] == UInt64(i))
      #expect(b[key] == (i < 500 ? nil : UInt64(i)))
    }
    for i in 0..<5000 { #expect(a[ContentID(high: UInt64(i), low: 7)] == UInt64(i)) }
    var empty = DenseTable<ContentID, UInt64>()
    #expect(empty[ContentID(high: 1, low: 1)] == nil)
    empty[ContentID(high: 1, low: 1)] = 3
    #expect(empty.count == 1)
  }

  @Test func identifierTableIsKeyedByTheString() {
    var table = IdentifierTable<Int>()
    for i in 0..<1000 { table["cookie-\(i)"] = i }
    table["cookie-7"] = nil
    #expect(table.count == 999)
    #expect(table["cookie-7"] == nil)
    #expect(table["cookie-999"] == 999)
    #expect(table[Identifier("cookie-500")] == 500)
    #expect(Identifier("a") != Identifier("b"))
    #expect(Set(table.map { $0.key.string }).count == 999)
  }
}
