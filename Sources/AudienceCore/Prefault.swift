#if canImport(Glibc)
  import Glibc
#endif
import Synchronization

/// Maps the pages a growing array is about to write, a chunk at a time, before it writes them.
///
/// A bulk load writes hundreds of megabytes of fresh memory (the graph's slot arrays). Each first
/// write to a 4 KiB page is a page fault: an exception, the page found, zeroed, charged and
/// mapped, then back; a tenth of the server's CPU during a load (docs/BENCHMARKS.md). One
/// `madvise(MADV_POPULATE_WRITE)` maps 512 pages in one call, without the exception per page.
/// Only the next chunk ahead of the array's end is mapped, so the array's resident memory runs at
/// most one chunk ahead of what it holds. Where the call is not supported (Linux before 5.14,
/// other systems) it fails and the pages fault in as before.
public enum Prefault {
  static let chunk = 2 << 20
  static let page = 4096

  /// Once the store gives a queue of its own (`mapInBackground`), the pages ahead are mapped
  /// there, a chunk before the array reaches them, and the thread that appends (the store's
  /// leader, which every commit waits for) no longer waits for the kernel to zero them (until
  /// then, the appending thread maps them). A page the appending thread reaches
  /// before the other mapped it faults in as usual; a request for a block that `realloc` has
  /// since moved maps nothing of the array's (the kernel refuses an unmapped range, and a range
  /// mapped again by then only has pages mapped that are there already or zero).
  public typealias Runner = @Sendable (@escaping @Sendable () -> Void) -> Void
  /// A class, not the closure itself: a closure read and written back through the generic
  /// `Mutex` is wrapped in two more thunks each time, and the chain grew with every store opened
  /// until releasing it overflowed a stack.
  private final class Background: Sendable {
    let run: Runner
    init(_ run: @escaping Runner) { self.run = run }
  }
  private static let runner = Mutex<Background?>(nil)

  /// Sets where pages are mapped ahead from now on (the first call only; see above).
  public static func mapInBackground(using run: @escaping Runner) {
    runner.withLock { current in
      if current == nil { current = Background(run) }
    }
  }

  /// Maps whole pages from `populated` bytes past `base` up to a chunk beyond `needed` (never past
  /// `limit`, the block's size); returns how many bytes from `base` are mapped now.
  static func ahead(_ base: UnsafeMutableRawPointer, populated: Int, needed: Int, limit: Int) -> Int {
    #if os(Linux)
      let address = Int(bitPattern: base)
      let start = (address + populated) & ~(page - 1)
      if let background = runner.withLock({ $0 })?.run {
        // Two chunks ahead, and called again one chunk before their end.
        let end = (address + Swift.min(Swift.max(needed, populated) + 2 * chunk, limit)) & ~(page - 1)
        if end > start {
          background { _ = madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, 23) }  // MADV_POPULATE_WRITE
        }
        return Swift.max(Swift.min(end - address, Swift.max(needed, populated) + chunk), needed)
      }
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
