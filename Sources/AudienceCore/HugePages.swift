#if canImport(Glibc)
  import Glibc
#endif

/// Transparent huge pages for large blocks read at random.
enum HugePages {
  static let size = 2 << 20

  /// Asks Linux to back the whole 2 MiB ranges inside a block with 2 MiB pages, before the
  /// block is first written (transparent huge pages, when enabled for regions that ask: Debian's
  /// default). Only for blocks of 8 MiB or more; elsewhere, and on other systems, nothing.
  static func advise(_ block: UnsafeMutableRawPointer, bytes: Int) {
    #if os(Linux)
      guard bytes >= 4 * size else { return }
      let start = (Int(bitPattern: block) + size - 1) & ~(size - 1)
      let end = (Int(bitPattern: block) + bytes) & ~(size - 1)
      guard end > start, let first = UnsafeMutableRawPointer(bitPattern: start) else { return }
      _ = madvise(first, end - start, MADV_HUGEPAGE)
    #endif
  }
}
