internal import CSystemCalls
import Glibc
import Logging
import NIOPosix

extension EmbeddedStore {
  /// Nice values for the store's own threads (on Linux each thread has its own).
  ///
  /// A bulk load keeps both cores busy, and the commit's leader is the one thread every record
  /// passes through in turn: at equal priority it waited a third of its time to be run (1.1 s
  /// runnable but not running in a 3 s load of a million records), while the threads that feed
  /// it had work queued. The commit threads (leader and durable) go first (docs/BENCHMARKS.md).
  /// The index thread stays at the process's priority: readers of the index wait for it.
  public struct ThreadNice: Sendable, Equatable {
    /// The leader's and the durable thread's. Below 0 needs `CAP_SYS_NICE` (or root, or
    /// `RLIMIT_NICE`); without it they stay at the process's.
    public var commit: Int32
    /// The index thread's (0: the process's).
    public var indexer: Int32

    public init(commit: Int32, indexer: Int32) {
      self.commit = commit
      self.indexer = indexer
    }

    /// Commit threads at -10.
    public static let standard = ThreadNice(commit: -10, indexer: 0)
    /// Every thread at the process's priority.
    public static let unchanged = ThreadNice(commit: 0, indexer: 0)
  }

  /// Sets each thread's nice value on the thread itself (a value, not a change: the process's
  /// own is not added); logs a notice for each thread whose value is refused.
  func setNice(_ nice: ThreadNice) {
    let logger = self.logger
    func set(_ pool: NIOThreadPool, _ value: Int32, _ name: String) {
      guard value != 0 else { return }
      pool.submit { _ in
        guard audience_set_thread_nice(value) != 0 else { return }
        let reason = String(cString: strerror(errno))
        logger.notice(
          "the \(name) thread keeps the process's priority: nice \(value) refused (\(reason)); a value below the process's needs CAP_SYS_NICE",
          metadata: ["store.thread": "\(name)"])
      }
    }
    set(pool, nice.commit, "commit")
    set(durable, nice.commit, "durable")
    set(indexer, nice.indexer, "index")
  }
}
