internal import Glibc

/// Owns the C memory of protobuf-c messages being built for packing: every string and
/// sub-message comes from here and is freed together when the arena goes, after packing.
final class Arena {
  private var blocks: [UnsafeMutableRawPointer] = []

  deinit { for b in blocks { free(b) } }

  /// A NUL-terminated copy of `s` (empty for nil).
  func string(_ s: String?) -> UnsafeMutablePointer<CChar> {
    let s = s ?? ""
    let n = s.utf8.count
    let p = allocate(CChar.self, count: n + 1)
    s.utf8.withContiguousStorageIfAvailable { src in
      src.withMemoryRebound(to: CChar.self) { p.update(from: $0.baseAddress!, count: n) }
    } ?? {
      for (i, b) in s.utf8.enumerated() { p[i] = CChar(bitPattern: b) }
    }()
    p[n] = 0
    return p
  }

  /// An array of C strings.
  func strings(_ values: [String]) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? {
    guard !values.isEmpty else { return nil }
    let p = allocate(UnsafeMutablePointer<CChar>?.self, count: values.count)
    for (i, v) in values.enumerated() { p[i] = string(v) }
    return p
  }

  /// Uninitialized memory for `count` values of `T`, zero-filled.
  func allocate<T>(_: T.Type, count: Int = 1) -> UnsafeMutablePointer<T> {
    let bytes = max(1, MemoryLayout<T>.stride * count)
    guard let raw = calloc(1, bytes) else { fatalError("out of memory allocating \(bytes) bytes") }
    blocks.append(raw)
    return raw.bindMemory(to: T.self, capacity: count)
  }

  /// An array of pointers to messages built by `make`.
  func messages<T, E>(_ values: [E], _ make: (E) -> UnsafeMutablePointer<T>) -> UnsafeMutablePointer<UnsafeMutablePointer<T>?>? {
    guard !values.isEmpty else { return nil }
    let p = allocate(UnsafeMutablePointer<T>?.self, count: values.count)
    for (i, v) in values.enumerated() { p[i] = make(v) }
    return p
  }
}
