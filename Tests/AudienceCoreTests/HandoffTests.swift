import AudienceCore
import Testing

@Suite("Handoff")
struct HandoffTests {
  final class Token: Sendable {}

  /// Once taken, the value is the taker's alone: the handoff (kept alive by a closure that
  /// captured it) holds no reference to it.
  @Test func takingLeavesNothingBehind() {
    var token: Token? = Token()
    weak let watched = token
    let handoff = Handoff([token!])
    token = nil
    var taken: [Token]? = handoff.take()
    #expect(taken?.count == 1)
    #expect(watched != nil)
    taken = nil
    #expect(watched == nil, "the handoff still holds the value it handed over")
    _ = handoff
  }

  /// An array taken from a handoff is uniquely referenced: mutating it does not copy it.
  @Test func aTakenArrayIsUnique() {
    let handoff = Handoff(Array(repeating: 7, count: 1000))
    var taken = handoff.take()
    let before = taken.withUnsafeBufferPointer { $0.baseAddress }
    taken[0] = 8
    #expect(taken.withUnsafeBufferPointer { $0.baseAddress } == before, "the array was copied: still shared")
  }
}
