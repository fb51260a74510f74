/// A profile's interest codes in the segment index, ascending: up to four inline, more in an
/// array of their own.
///
/// Most profiles have four interests or fewer. As an `[UInt32]` each profile's codes were a heap
/// block of their own: a malloc per new profile on the indexer (a fifth of its mallocs), a free
/// per change, and a pointer to follow for each profile a catch-up or a snapshot reads.
struct InterestCodes: Sendable, Equatable, RandomAccessCollection {
  static let inlineCapacity = 4

  private var inline = SIMD4<UInt32>()
  private var inlineCount: UInt8 = 0
  /// Every code, once there are more than `inlineCapacity` (then `inline` is unused).
  private var spilled: [UInt32] = []

  init() {}

  /// The codes, sorted.
  init(sorting codes: some Sequence<UInt32>) {
    for c in codes { insert(c) }
  }

  var startIndex: Int { 0 }
  var endIndex: Int { spilled.isEmpty ? Int(inlineCount) : spilled.count }

  subscript(i: Int) -> UInt32 {
    precondition(i >= 0 && i < endIndex, "InterestCodes index \(i) out of range 0..<\(endIndex)")
    return spilled.isEmpty ? inline[i] : spilled[i]
  }

  /// Adds a code in its place in the order.
  mutating func insert(_ code: UInt32) {
    if spilled.isEmpty, Int(inlineCount) < Self.inlineCapacity {
      var i = Int(inlineCount)
      while i > 0, inline[i - 1] > code {
        inline[i] = inline[i - 1]
        i -= 1
      }
      inline[i] = code
      inlineCount += 1
      return
    }
    if spilled.isEmpty {
      spilled.reserveCapacity(Self.inlineCapacity * 2)
      for i in 0..<Int(inlineCount) { spilled.append(inline[i]) }
      inline = SIMD4()
      inlineCount = 0
    }
    var i = spilled.count
    while i > 0, spilled[i - 1] > code { i -= 1 }
    spilled.insert(code, at: i)
  }

  /// Bytes held outside the value itself.
  var heapBytes: Int { spilled.isEmpty ? 0 : 32 + spilled.capacity * 4 }

  static func == (a: InterestCodes, b: InterestCodes) -> Bool {
    if a.spilled.isEmpty && b.spilled.isEmpty {
      // Unused lanes are zero on both sides.
      return a.inlineCount == b.inlineCount && a.inline == b.inline
    }
    return a.elementsEqual(b)
  }
}
