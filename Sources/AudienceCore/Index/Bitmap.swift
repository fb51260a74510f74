/// A dense set of small non-negative integers (profile ids), one bit each.
///
/// Words past the end read as zero, so bitmaps of different lengths combine freely.
public struct Bitmap: Sendable, Equatable {
  var words: [UInt64]

  /// An empty bitmap with room for `capacity` bits.
  /// - Parameters:
  ///   - capacity: bits to allocate up front.
  init(capacity: Int = 0) { words = [UInt64](repeating: 0, count: (capacity + 63) >> 6) }

  /// Every id in `0..<count`.
  /// - Parameters:
  ///   - count: how many ids, from 0.
  static func full(_ count: Int) -> Bitmap {
    var b = Bitmap(capacity: count)
    let whole = count >> 6
    for i in 0..<whole { b.words[i] = .max }
    if count & 63 != 0 { b.words[whole] = (1 << UInt64(count & 63)) - 1 }
    return b
  }

  @inline(__always) func contains(_ i: Int) -> Bool {
    let w = i >> 6
    return w < words.count && words[w] & (1 << UInt64(i & 63)) != 0
  }

  @inline(__always) mutating func insert(_ i: Int) {
    let w = i >> 6
    if w >= words.count { words.append(contentsOf: repeatElement(0, count: w - words.count + 1)) }
    words[w] |= 1 << UInt64(i & 63)
  }

  @inline(__always) mutating func remove(_ i: Int) {
    let w = i >> 6
    if w < words.count { words[w] &= ~(1 << UInt64(i & 63)) }
  }

  /// Makes room for ids below `count` (ids past the end read as absent either way).
  mutating func reserve(_ count: Int) {
    let n = (count + 63) >> 6
    if n > words.count { words.append(contentsOf: repeatElement(0, count: n - words.count)) }
  }

  /// Number of members.
  public var count: Int {
    words.withUnsafeBufferPointer { ws in
      var n = 0
      for w in ws { n &+= w.nonzeroBitCount }
      return n
    }
  }

  var isEmpty: Bool { words.allSatisfy { $0 == 0 } }

  mutating func formUnion(_ other: Bitmap) {
    if other.words.count > words.count {
      words.append(contentsOf: repeatElement(0, count: other.words.count - words.count))
    }
    words.withUnsafeMutableBufferPointer { a in
      other.words.withUnsafeBufferPointer { b in
        for i in 0..<b.count { a[i] |= b[i] }
      }
    }
  }

  mutating func formIntersection(_ other: Bitmap) {
    let n = min(words.count, other.words.count)
    words.withUnsafeMutableBufferPointer { a in
      other.words.withUnsafeBufferPointer { b in
        for i in 0..<n { a[i] &= b[i] }
        for i in n..<a.count { a[i] = 0 }
      }
    }
  }

  mutating func subtract(_ other: Bitmap) {
    let n = min(words.count, other.words.count)
    words.withUnsafeMutableBufferPointer { a in
      other.words.withUnsafeBufferPointer { b in
        for i in 0..<n { a[i] &= ~b[i] }
      }
    }
  }

  /// Size of the intersection, without building it.
  func intersectionCount(_ other: Bitmap) -> Int {
    let n = min(words.count, other.words.count)
    return words.withUnsafeBufferPointer { a in
      other.words.withUnsafeBufferPointer { b in
        var c = 0
        for i in 0..<n { c &+= (a[i] & b[i]).nonzeroBitCount }
        return c
      }
    }
  }

  /// Calls `body` with each member greater than `after`, in increasing order, until it returns false.
  /// - Parameters:
  ///   - after: members up to this one are skipped; -1 visits all.
  ///   - body: receives a member; returns whether to go on.
  func forEach(after: Int = -1, _ body: (Int) -> Bool) {
    let start = after + 1
    var w = start >> 6
    guard w < words.count else { return }
    var word = words[w] & (UInt64.max << UInt64(start & 63))
    while true {
      while word != 0 {
        let bit = word.trailingZeroBitCount
        if !body(w << 6 | bit) { return }
        word &= word &- 1
      }
      w += 1
      guard w < words.count else { return }
      word = words[w]
    }
  }

  /// Members in increasing order.
  var members: [Int] {
    var out: [Int] = []
    forEach { out.append($0); return true }
    return out
  }

  /// Bytes held.
  var memoryBytes: Int { words.capacity * 8 }
}
