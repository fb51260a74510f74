#if canImport(Glibc)
  import Glibc
#endif

/// A fixed number of 64-bit words, zero when made, copied on write: a `DenseTable`'s buckets.
///
/// An `Array` made for them is filled with zeros by a write of every word. The block of a large
/// one comes from the kernel already zero (mapped pages, zeroed as they are first touched), so
/// the fill zeroed each page a second time and touched it before its huge-page advice could
/// matter. `calloc` knows which blocks are fresh and writes zeros only where they are not.
struct ZeroedWords: Sendable {
  private final class Storage: @unchecked Sendable {
    let base: UnsafeMutablePointer<UInt64>
    let count: Int

    init(zeroed count: Int) {
      guard let block = calloc(count, MemoryLayout<UInt64>.stride) else { fatalError("out of memory: \(count) words") }
      HugePages.advise(block, bytes: count * MemoryLayout<UInt64>.stride)
      base = block.bindMemory(to: UInt64.self, capacity: count)
      self.count = count
    }

    init(copying other: Storage) {
      guard let block = malloc(other.count * MemoryLayout<UInt64>.stride) else { fatalError("out of memory: \(other.count) words") }
      base = block.bindMemory(to: UInt64.self, capacity: other.count)
      base.update(from: other.base, count: other.count)
      count = other.count
    }

    deinit { free(base) }
  }

  /// Nil when empty. Shared between copies until one of them writes (only mutations under
  /// exclusive access write: the class is never written while shared).
  private var storage: Storage?

  init() {}

  /// `count` zero words.
  init(zeroed count: Int) {
    storage = count > 0 ? Storage(zeroed: count) : nil
  }

  var count: Int { storage?.count ?? 0 }
  var isEmpty: Bool { storage == nil }

  subscript(_ i: Int) -> UInt64 {
    get {
      precondition(i >= 0 && i < count, "ZeroedWords: index out of range")
      return storage.unsafelyUnwrapped.base[i]
    }
    set {
      precondition(i >= 0 && i < count, "ZeroedWords: index out of range")
      if !isKnownUniquelyReferenced(&storage) { storage = Storage(copying: storage.unsafelyUnwrapped) }
      storage.unsafelyUnwrapped.base[i] = newValue
    }
  }

  func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<UInt64>) throws -> R) rethrows -> R {
    try body(UnsafeBufferPointer(start: storage?.base, count: count))
  }

  mutating func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<UInt64>) throws -> R) rethrows -> R {
    if storage != nil, !isKnownUniquelyReferenced(&storage) { storage = Storage(copying: storage.unsafelyUnwrapped) }
    return try body(UnsafeMutableBufferPointer(start: storage?.base, count: count))
  }
}
