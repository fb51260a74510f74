#if canImport(Glibc)
  import Glibc
#endif

/// Maps the pages a growing array is about to write, a chunk at a time, before it writes them.
///
/// A bulk load writes hundreds of megabytes of fresh memory (the graph's slot arrays). Each first
/// write to a 4 KiB page is a page fault: an exception, the page found, zeroed, charged and
/// mapped, then back; a tenth of the server's CPU during a load (docs/BENCHMARKS.md). One
/// `madvise(MADV_POPULATE_WRITE)` maps 512 pages in one call, without the exception per page.
/// Only the next chunk ahead of the array's end is mapped, so the array's resident memory runs at
/// most one chunk ahead of what it holds. Where the call is not supported (Linux before 5.14,
/// other systems) it fails and the pages fault in as before.
enum Prefault {
  static let chunk = 2 << 20
  static let page = 4096

  /// Maps whole pages from `populated` bytes past `base` up to a chunk beyond `needed` (never past
  /// `limit`, the block's size); returns how many bytes from `base` are mapped now.
  static func ahead(_ base: UnsafeMutableRawPointer, populated: Int, needed: Int, limit: Int) -> Int {
    #if os(Linux)
      let address = Int(bitPattern: base)
      let start = (address + populated) & ~(page - 1)
      let end = (address + Swift.min(Swift.max(needed, populated) + chunk, limit)) & ~(page - 1)
      if end > start, let first = UnsafeMutableRawPointer(bitPattern: start) {
        _ = madvise(first, end - start, 23)  // MADV_POPULATE_WRITE
      }
      return Swift.max(end - address, needed)
    #else
      return limit
    #endif
  }
}
