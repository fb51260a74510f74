/// The profiles holding one attribute value: a sorted array of ids while the value is rare,
/// a bitmap once it is common (more than one profile in 128), back to an array below one in 256.
/// So a rare city costs 4 bytes per profile and a common country an eighth of a byte. The
/// array is kept short because a profile that changes a value moves its id out of one array
/// and into another, each a copy of the elements after it: with arrays up to one profile in 32
/// (a city or an age of a million profiles) those copies were a sixth of the indexer's time
/// during a bulk load (docs/BENCHMARKS.md).
struct PostingSet: Sendable {
  var count = 0
  var ids: [UInt32] = []
  var bits: Bitmap?

  var isDense: Bool { bits != nil }

  /// - Parameters:
  ///   - id: the profile.
  ///   - universe: profiles that exist (the id range), for choosing the representation.
  mutating func insert(_ id: Int, universe: Int) {
    if bits != nil {
      guard !bits!.contains(id) else { return }
      bits!.insert(id)
      count += 1
      return
    }
    let v = UInt32(id)
    if let last = ids.last, last >= v {
      let i = lowerBound(v)
      guard i == ids.count || ids[i] != v else { return }
      ids.insert(v, at: i)
    } else {
      ids.append(v)
    }
    count += 1
    if count > 64, count > universe >> 7 {
      var b = Bitmap(capacity: universe)
      for x in ids { b.insert(Int(x)) }
      bits = b
      ids = []
    }
  }

  /// - Parameters:
  ///   - id: the profile.
  ///   - universe: profiles that exist.
  mutating func remove(_ id: Int, universe: Int) {
    if bits != nil {
      guard bits!.contains(id) else { return }
      bits!.remove(id)
      count -= 1
      if count < universe >> 8 {
        var list: [UInt32] = []
        list.reserveCapacity(count)
        bits!.forEach { list.append(UInt32($0)); return true }
        ids = list
        bits = nil
      }
      return
    }
    let v = UInt32(id)
    let i = lowerBound(v)
    guard i < ids.count, ids[i] == v else { return }
    ids.remove(at: i)
    count -= 1
  }

  private func lowerBound(_ v: UInt32) -> Int {
    var lo = 0, hi = ids.count
    while lo < hi {
      let mid = (lo + hi) >> 1
      if ids[mid] < v { lo = mid + 1 } else { hi = mid }
    }
    return lo
  }

  func contains(_ id: Int) -> Bool {
    if let bits { return bits.contains(id) }
    let i = lowerBound(UInt32(id))
    return i < ids.count && ids[i] == UInt32(id)
  }

  /// Adds the members to `result`.
  func union(into result: inout Bitmap) {
    if let bits {
      result.formUnion(bits)
    } else {
      guard let last = ids.last else { return }
      result.reserve(Int(last) + 1)
      result.words.withUnsafeMutableBufferPointer { ws in
        ids.withUnsafeBufferPointer { xs in
          for x in xs { ws[Int(x >> 6)] |= 1 << UInt64(x & 63) }
        }
      }
    }
  }

  /// The members as a bitmap.
  /// - Parameters:
  ///   - capacity: bits to allocate.
  func bitmap(capacity: Int) -> Bitmap {
    if let bits { return bits }
    var b = Bitmap(capacity: capacity)
    union(into: &b)
    return b
  }

  /// How many members are also in `segment`.
  func intersectionCount(_ segment: Bitmap) -> Int {
    if let bits { return bits.intersectionCount(segment) }
    var n = 0
    ids.withUnsafeBufferPointer { xs in
      for x in xs where segment.contains(Int(x)) { n += 1 }
    }
    return n
  }

  /// Bytes held.
  var memoryBytes: Int { ids.capacity * 4 + (bits?.memoryBytes ?? 0) }
}
