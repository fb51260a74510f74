extension Array {
  /// Calls `body` with each position and the element there, read in place. A `for` loop over an
  /// array copies each element out: for a record, a retain and a release of each of its strings.
  /// The optimizer still copies the element when `body` passes it to a call that may write
  /// memory it cannot see (a throwing call, a mutating method of another value), since it
  /// cannot prove the element unchanged during the call (perf, docs/BENCHMARKS.md).
  @inlinable
  public func forEachInPlace<E: Error>(_ body: (Int, Element) throws(E) -> Void) throws(E) {
    try withUnsafeBufferPointer { (elements) throws(E) in
      for i in elements.indices { try body(i, elements[i]) }
    }
  }

  /// Calls `body` with each position and the element there moved out to a local, and puts it
  /// back after (the array is left as it was; a shared array is copied first). Where
  /// `forEachInPlace` still copies the element for such a call, this never does: the local is
  /// the loop's alone, so nothing `body` calls can change it.
  @inlinable
  public mutating func forEachMovedOut<E: Error>(_ body: (Int, borrowing Element) throws(E) -> Void) throws(E) {
    try withUnsafeMutableBufferPointer { (elements) throws(E) in
      for i in elements.indices {
        let slot = elements.baseAddress! + i
        let element = slot.move()
        defer { slot.initialize(to: element) }
        try body(i, element)
      }
    }
  }
}
