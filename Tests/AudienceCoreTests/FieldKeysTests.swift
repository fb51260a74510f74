import Testing

@testable import AudienceCore

/// A profile keeps each field's record key as a place in a small table of distinct keys
/// (`FieldKeys`); whatever the order of writes, each field reads back the key written last, and
/// the table never grows past ten keys besides its head.
@Suite("Field keys")
struct FieldKeysTests {
  @Test func eachFieldReadsTheKeyWrittenLast() {
    var rng = SplitMix64(seed: 11)
    let keys = (0..<30).map { RecordKey(createdAt: Timestamp(seconds: Int64($0 % 7)), seq: UInt64($0)) }
    var table = FieldKeys(keys[0])
    var model = [RecordKey](repeating: keys[0], count: 10)
    for step in 0..<5_000 {
      let field = Int.random(in: 0..<10, using: &rng)
      // Mostly a few keys, now and then one of many: compactions happen, and keys come back.
      let key = keys[step % 50 == 0 ? Int.random(in: 0..<30, using: &rng) : Int.random(in: 0..<3, using: &rng) + step % 20]
      table.set(FieldKeys.Field(rawValue: field)!, key)
      model[field] = key
      for f in 0..<10 where table[FieldKeys.Field(rawValue: f)!] != model[f] {
        Issue.record("step \(step): field \(f) reads \(table[FieldKeys.Field(rawValue: f)!]), not \(model[f])")
        return
      }
    }
  }

  @Test func aProfileIsSmallerThanItsKeysWere() {
    // Ten keys of 16 bytes were 160 bytes of every profile (440 in all); the table is 32.
    #expect(MemoryLayout<FieldKeys>.size == 32)
    #expect(MemoryLayout<Profile>.stride <= 320, "\(MemoryLayout<Profile>.stride)")
  }
}
