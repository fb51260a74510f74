extension Array {
  /// Calls `body` with each position and the element there, read in place. A `for` loop over an
  /// array copies each element out: for a record, a retain and a release of each of its strings,
  /// which on the ingest path is a sizeable part of the work per record.
  @inlinable
  public func forEachInPlace<E: Error>(_ body: (Int, Element) throws(E) -> Void) throws(E) {
    try withUnsafeBufferPointer { (elements) throws(E) in
      for i in elements.indices { try body(i, elements[i]) }
    }
  }
}
