extension String {
  /// Calls `body` with the string's UTF-8 bytes, read in place when the string is native (nearly
  /// always). `withUTF8` is mutating: calling it on a copy retains the string and releases it after,
  /// on every field of every record.
  @inlinable @inline(__always)
  public func withUTF8InPlace<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
    if let result = try utf8.withContiguousStorageIfAvailable(body) { return result }
    var copy = self
    return try copy.withUTF8(body)
  }
}
