import PropertyBased
import Testing

@testable import AudienceCore

@Suite("InterestCodes")
struct InterestCodesTests {
  /// Codes inserted in any order read back ascending, inline (up to four) or spilled; equal
  /// sets are equal whatever order built them, and different ones are not.
  @Test func holdsCodesSortedInlineOrSpilled() async {
    await propertyCheck(count: 300, input: Gen.int(in: 0...1_000_000), Gen.int(in: 0...12)) { seed, n in
      var rng = SplitMix64(seed: UInt64(seed))
      let codes = (0..<n).map { _ in UInt32.random(in: 1...40, using: &rng) }
      let built = InterestCodes(sorting: codes)
      #expect(Array(built) == codes.sorted(), "seed \(seed)")
      #expect(built.count == n)
      #expect((built.heapBytes > 0) == (n > InterestCodes.inlineCapacity), "seed \(seed)")
      #expect(InterestCodes(sorting: codes.shuffled(using: &rng)) == built, "seed \(seed)")
      var other = codes
      if other.isEmpty { other = [7] } else { other[Int.random(in: 0..<n, using: &rng)] = 41 }
      #expect(InterestCodes(sorting: other) != built, "seed \(seed)")
    }
  }

  @Test func spillsPastFourAndCountsItsHeap() {
    let four = InterestCodes(sorting: [9, 3, 7, 1])
    #expect(Array(four) == [1, 3, 7, 9])
    #expect(four.heapBytes == 0)
    var five = four
    five.insert(5)
    #expect(Array(five) == [1, 3, 5, 7, 9])
    #expect(five.heapBytes > 0)
    #expect(four != five)
    #expect(Array(four) == [1, 3, 7, 9], "a copy changed the original")
  }
}
