import PropertyBased
import Synchronization
#if canImport(Glibc)
  import Glibc
#endif
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
        case 9 where !array.isEmpty && Bool.random(using: &rng):
          // Removals and swaps, often on storage a copy shares.
          switch Int.random(in: 0..<3, using: &rng) {
          case 0:
            #expect(slots.removeLast() == array.removeLast())
          case 1:
            let from = Int.random(in: 0...array.count, using: &rng)
            slots.removeSubrange(from...)
            array.removeSubrange(from...)
          default:
            let (i, j) = (Int.random(in: 0..<array.count, using: &rng), Int.random(in: 0..<array.count, using: &rng))
            slots.swapAt(i, j)
            array.swapAt(i, j)
          }
        default:
          if Int.random(in: 0..<50, using: &rng) == 0 {
            let keep = Bool.random(using: &rng)
            slots.removeAll(keepingCapacity: keep)
            array.removeAll(keepingCapacity: keep)
          }
        }
        #expect(slots.count == array.count)
        if step % 97 == 0 { #expect(Array(slots) == array) }
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
      #expect(slots.isEmpty && slots.capacity >= 10_000)
      withExtendedLifetime(copy) {
        // copy holds 9,999 of the first ones and its own new one.
        #expect(Tracked.live.load(ordering: .relaxed) == before + 10_000)
      }
    }
    #expect(Tracked.live.load(ordering: .relaxed) == before)
  }

  /// Written in place like Array's initializer; only the first `count` elements are kept (and
  /// released), also when the initializer throws.
  @Test func fillsInPlace() throws {
    let before = Tracked.live.load(ordering: .relaxed)
    do {
      let slots = SlotArray<Tracked>(unsafeUninitializedCapacity: 100) { buffer, count in
        for i in 0..<60 { (buffer.baseAddress! + i).initialize(to: Tracked(i)) }
        count = 60
      }
      #expect(slots.count == 60 && slots.capacity >= 100)
      #expect(slots[59].value == "value 59, long enough to live on the heap")
      #expect(slots.suffix(2).map(\.value) == ["value 58, long enough to live on the heap", "value 59, long enough to live on the heap"])
      #expect(Tracked.live.load(ordering: .relaxed) == before + 60)
    }
    #expect(Tracked.live.load(ordering: .relaxed) == before)
    struct Stop: Error {}
    #expect(throws: Stop.self) {
      _ = try SlotArray<Tracked>(unsafeUninitializedCapacity: 10) { buffer, count in
        for i in 0..<4 { (buffer.baseAddress! + i).initialize(to: Tracked(i)) }
        count = 4
        throw Stop()
      }
    }
    #expect(Tracked.live.load(ordering: .relaxed) == before)
  }

  /// Large enough that glibc keeps the block in a mapping of its own and grows it with mremap;
  /// a copy taken on the way keeps its elements, and the rest of the API reads the same.
  @Test func growsPastTheMappingThreshold() {
    var slots = SlotArray<Int>()
    var copy = SlotArray<Int>()
    for i in 0..<3_000_000 {
      slots.append(i &* 31)
      if i == 1_000_000 { copy = slots }
    }
    #expect(slots.count == 3_000_000 && copy.count == 1_000_001)
    #expect(slots.withUnsafeBufferPointer { b in (0..<b.count).allSatisfy { b[$0] == $0 &* 31 } })
    #expect(copy.withUnsafeBufferPointer { b in (0..<b.count).allSatisfy { b[$0] == $0 &* 31 } })
    copy[0] = -1
    #expect(slots[0] == 0)
    var small = SlotArray<Int>()
    small.reserveCapacity(1_000)
    #expect(small.capacity >= 1_000 && small.isEmpty)
    small.append(contentsOf: slots.prefix(3))
    #expect(small == [0, 31, 62] && small != [0, 31])
  }

  /// Mapping the pages ahead (`Prefault`) never goes past the block, always covers what is asked
  /// for, and leaves the bytes as they were.
  @Test func prefaultingStaysInsideTheBlockAndKeepsTheBytes() throws {
    let size = 10 << 20
    let block = try #require(malloc(size))
    defer { free(block) }
    let bytes = block.bindMemory(to: UInt8.self, capacity: size)
    for i in stride(from: 0, to: size, by: 4093) { bytes[i] = UInt8(truncatingIfNeeded: i) }
    var populated = 0
    var needed = 1
    while needed <= size {
      let next = Prefault.ahead(block, populated: populated, needed: needed, limit: size)
      #expect(next >= needed && next <= size, "populated \(populated), needed \(needed) -> \(next)")
      populated = next
      needed += 777_777
    }
    for i in stride(from: 0, to: size, by: 4093) { #expect(bytes[i] == UInt8(truncatingIfNeeded: i)) }
  }
}
