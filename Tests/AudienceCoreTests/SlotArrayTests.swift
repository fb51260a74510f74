import PropertyBased
import Synchronization
import Testing

@testable import AudienceCore

/// Counts live instances, to see that the array releases what it holds exactly once.
private final class Tracked: Sendable {
  static let live = Atomic<Int>(0)
  let value: String
  init(_ value: Int) {
    self.value = "value \(value), long enough to live on the heap"
    Self.live.add(1, ordering: .relaxed)
  }
  deinit { Self.live.subtract(1, ordering: .relaxed) }
}

@Suite("SlotArray", .serialized)
struct SlotArrayTests {
  /// Appends (through many growths), writes in place, copies and empties, checked step by step
  /// against an Array; a copy taken at any point keeps its elements however the original changes.
  @Test func actsAsAnArray() async {
    await propertyCheck(count: 100, input: Gen.int(in: 0...1_000_000), Gen.int(in: 1...3_000)) { seed, n in
      var rng = SplitMix64(seed: UInt64(seed))
      var slots = SlotArray<String?>()
      var array: [String?] = []
      var copies: [(SlotArray<String?>, [String?])] = []
      for step in 0..<n {
        switch Int.random(in: 0..<10, using: &rng) {
        case 0..<6:
          let s: String? = Bool.random(using: &rng) ? nil : "step \(step) with a string on the heap"
          slots.append(s)
          array.append(s)
        case 6..<8 where !array.isEmpty:
          let i = Int.random(in: 0..<array.count, using: &rng)
          slots[i] = "written at \(step)"
          array[i] = "written at \(step)"
        case 8:
          copies.append((slots, array))
        default:
          if Int.random(in: 0..<50, using: &rng) == 0 {
            let keep = Bool.random(using: &rng)
            slots.removeAll(keepingCapacity: keep)
            array.removeAll(keepingCapacity: keep)
          }
        }
        #expect(slots.count == array.count)
      }
      #expect(Array(slots) == array)
      for (copy, expected) in copies { #expect(Array(copy) == expected) }
    }
  }

  @Test func releasesEveryElementOnce() {
    let before = Tracked.live.load(ordering: .relaxed)
    do {
      var slots = SlotArray<Tracked?>()
      for i in 0..<10_000 { slots.append(Tracked(i)) }
      var copy = slots
      copy[5] = nil
      copy.append(Tracked(-1))
      #expect(slots[5]?.value == "value 5, long enough to live on the heap")
      #expect(copy.count == 10_001 && slots.count == 10_000)
      slots.removeAll(keepingCapacity: true)
      #expect(slots.isEmpty)
      #expect(Tracked.live.load(ordering: .relaxed) == before + 10_000)
    }
    #expect(Tracked.live.load(ordering: .relaxed) == before)
  }

  /// Written in place like Array's initializer; only `count` elements are kept.
  @Test func fillsInPlace() {
    let slots = SlotArray<String>(unsafeUninitializedCapacity: 100) { buffer, count in
      for i in 0..<60 { (buffer.baseAddress! + i).initialize(to: "slot \(i)") }
      count = 60
    }
    #expect(slots.count == 60 && slots.capacity >= 100)
    #expect(slots[59] == "slot 59")
    #expect(Array(slots.suffix(2)) == ["slot 58", "slot 59"])
  }
}
