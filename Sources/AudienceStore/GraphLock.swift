import AudienceCore
import CSystemCalls
import Glibc

/// The identity graph behind a readers-writer lock. Writes (commits, forgets, splits, settling
/// the index) hold it alone; reads that only look share it, so a long read (a wide filter at a
/// million profiles takes a quarter of a second) holds up no other read, and a write waits for
/// the reads under way rather than for every read queued. Writers go first: once one waits, new
/// readers wait behind it (a stream of reads cannot hold a bulk load off).
final class GraphLock: @unchecked Sendable {
  private let graph: UnsafeMutablePointer<IdentityGraph>
  private let lock: UnsafeMutablePointer<pthread_rwlock_t>

  init(_ graph: consuming IdentityGraph) {
    self.graph = .allocate(capacity: 1)
    self.graph.initialize(to: graph)
    lock = .allocate(capacity: 1)
    precondition(audience_rwlock_init_writers_first(lock) == 0, "pthread_rwlock_init failed")
  }

  deinit {
    pthread_rwlock_destroy(lock)
    lock.deallocate()
    graph.deinitialize(count: 1)
    graph.deallocate()
  }

  /// Runs `body` with the graph to itself.
  func withLock<T, E: Error>(_ body: (inout IdentityGraph) throws(E) -> T) throws(E) -> T {
    // EDEADLK (this thread holds it already) would run the body unlocked.
    precondition(pthread_rwlock_wrlock(lock) == 0, "the graph's lock taken again by the thread holding it")
    defer { pthread_rwlock_unlock(lock) }
    return try body(&graph.pointee)
  }

  /// Runs `body` with the graph shared with other readers: it must not write it.
  func withSharedLock<T, E: Error>(_ body: (borrowing IdentityGraph) throws(E) -> T) throws(E) -> T {
    precondition(pthread_rwlock_rdlock(lock) == 0, "the graph's lock taken again by the thread holding it")
    defer { pthread_rwlock_unlock(lock) }
    return try body(graph.pointee)
  }

  /// Whether a reader arriving now would wait: a writer holds the lock or waits for it (for tests).
  var readersWait: Bool {
    guard pthread_rwlock_tryrdlock(lock) == 0 else { return true }
    pthread_rwlock_unlock(lock)
    return false
  }
}
