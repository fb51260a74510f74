#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A growable array of slots (the graph's profiles and raw records, indexed by id) whose storage
/// grows with `realloc` rather than by copying.
///
/// A Swift `Array` grows by allocating a block twice the size, copying every element into it and
/// freeing the old one: for a million 408-byte profile slots that is hundreds of megabytes
/// copied, and every page of each new block faulted in again. glibc keeps a block of more than a
/// few megabytes in a mapping of its own and grows it with `mremap`, which moves the pages
/// (their page-table entries) without copying them. Swift's value types are bitwise movable, so
/// the elements may move with their bytes (an element type that is not, such as one holding a
/// weak reference under Objective-C interop, must not be used here). Value semantics like
/// `Array`: a copy shares the storage until either is changed.
public struct SlotArray<Element>: RandomAccessCollection, MutableCollection {
  final class Storage {
    var base: UnsafeMutablePointer<Element>?
    var count = 0
    var capacity = 0
    /// Bytes from `base` whose pages are mapped (written, or populated by `Prefault`).
    var populated = 0

    init() {}

    deinit {
      guard let base else { return }
      base.deinitialize(count: count)
      free(base)
    }

    /// Room for at least `minimum` elements; grows geometrically.
    func reserve(_ minimum: Int) {
      guard minimum > capacity else { return }
      precondition(MemoryLayout<Element>.alignment <= 16, "SlotArray: malloc aligns to 16 bytes, \(Element.self) needs more")
      let grown = Swift.max(minimum, capacity * 2, 16)
      let (bytes, overflow) = grown.multipliedReportingOverflow(by: MemoryLayout<Element>.stride)
      precondition(!overflow, "SlotArray: \(grown) elements do not fit in memory")
      guard let raw = realloc(base.map(UnsafeMutableRawPointer.init), Swift.max(bytes, 1)) else {
        fatalError("SlotArray: out of memory growing to \(grown) elements")
      }
      base = raw.bindMemory(to: Element.self, capacity: grown)
      capacity = grown
      populated = count * MemoryLayout<Element>.stride  // what realloc moved or copied
    }

    /// Maps the pages ahead of the end before elements are appended to them (`Prefault`).
    @inline(never)
    func populate(toHold bytes: Int) {
      populated = Prefault.ahead(UnsafeMutableRawPointer(base!), populated: populated, needed: bytes, limit: capacity * MemoryLayout<Element>.stride)
    }

    func copy() -> Storage {
      let other = Storage()
      other.reserve(count)
      if count > 0 { other.base!.initialize(from: base!, count: count) }
      other.count = count
      other.populated = count * MemoryLayout<Element>.stride
      return other
    }
  }

  private var storage: Storage

  public init() { storage = Storage() }

  /// Elements written in place: `initializer` gets uninitialized room for `capacity` elements
  /// and sets `count` to how many it initialized (from the start), like `Array`'s.
  public init(
    unsafeUninitializedCapacity capacity: Int,
    initializingWith initializer: (inout UnsafeMutableBufferPointer<Element>, inout Int) throws -> Void
  ) rethrows {
    storage = Storage()
    storage.reserve(capacity)
    let base = storage.base
    var buffer = UnsafeMutableBufferPointer(start: base, count: capacity)
    var count = 0
    defer {
      // What Array checks too: the elements deinit will destroy are the ones initialized.
      precondition(count >= 0 && count <= capacity, "SlotArray: initialized count \(count) is not in 0...\(capacity)")
      precondition(buffer.baseAddress == base, "SlotArray: the initializer must not replace its buffer")
      storage.count = count
      storage.populated = count * MemoryLayout<Element>.stride
    }
    try initializer(&buffer, &count)
  }

  public init<S: Sequence<Element>>(_ elements: S) {
    self.init()
    append(contentsOf: elements)
  }

  public var startIndex: Int { 0 }
  public var endIndex: Int { storage.count }
  public var count: Int { storage.count }
  public var capacity: Int { storage.capacity }

  public subscript(i: Int) -> Element {
    // Borrowed in place, like Array's: reading one field of a 408-byte profile must not copy
    // (retain and release) the whole profile.
    _read {
      precondition(i >= 0 && i < storage.count, "SlotArray index \(i) out of range 0..<\(storage.count)")
      yield storage.base![i]
    }
    _modify {
      precondition(i >= 0 && i < storage.count, "SlotArray index \(i) out of range 0..<\(storage.count)")
      makeUnique()
      yield &storage.base![i]
    }
  }

  public mutating func append(_ element: consuming Element) {
    makeUnique()
    if storage.count == storage.capacity { storage.reserve(storage.count + 1) }
    let end = (storage.count + 1) &* MemoryLayout<Element>.stride
    if end > storage.populated { storage.populate(toHold: end) }
    (storage.base! + storage.count).initialize(to: element)
    storage.count += 1
  }

  public mutating func append<S: Sequence<Element>>(contentsOf elements: S) {
    reserveCapacity(count + elements.underestimatedCount)
    for e in elements { append(e) }
  }

  public mutating func reserveCapacity(_ minimum: Int) {
    makeUnique()
    storage.reserve(minimum)
  }

  /// Removes and returns the last element.
  @discardableResult
  public mutating func removeLast() -> Element {
    precondition(storage.count > 0, "SlotArray.removeLast on an empty array")
    makeUnique()
    storage.count -= 1
    return (storage.base! + storage.count).move()
  }

  /// Removes the elements from `range.lowerBound` to the end.
  public mutating func removeSubrange(_ range: PartialRangeFrom<Int>) {
    precondition(range.lowerBound >= 0 && range.lowerBound <= storage.count, "SlotArray range out of bounds")
    guard range.lowerBound < storage.count else { return }
    makeUnique()
    (storage.base! + range.lowerBound).deinitialize(count: storage.count - range.lowerBound)
    storage.count = range.lowerBound
  }

  /// The elements in place, for the duration of `body`.
  public func withUnsafeBufferPointer<R, E: Error>(_ body: (UnsafeBufferPointer<Element>) throws(E) -> R) throws(E) -> R {
    let storage = self.storage
    defer { withExtendedLifetime(storage) {} }
    return try body(UnsafeBufferPointer(start: storage.base, count: storage.count))
  }

  /// Empties the array, keeping its room when `keepingCapacity`.
  public mutating func removeAll(keepingCapacity: Bool = false) {
    guard keepingCapacity, isKnownUniquelyReferenced(&storage) else {
      let capacity = storage.capacity
      storage = Storage()
      if keepingCapacity { storage.reserve(capacity) }
      return
    }
    storage.base?.deinitialize(count: storage.count)
    storage.count = 0
  }

  private mutating func makeUnique() {
    if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
  }
}

extension SlotArray: @unchecked Sendable where Element: Sendable {}

extension SlotArray: ExpressibleByArrayLiteral {
  public init(arrayLiteral elements: Element...) { self.init(elements) }
}

extension SlotArray: Equatable where Element: Equatable {
  public static func == (a: Self, b: Self) -> Bool { a.elementsEqual(b) }
}
