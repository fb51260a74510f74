internal import Glibc

/// A value behind a pthread mutex, with one condition variable to wait on it. The connection
/// threads block (in `wait`) until another thread's `update` makes their condition true, which
/// `Synchronization.Mutex` cannot do.
final class Guarded<Value>: @unchecked Sendable {
  private var value: Value
  private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
  private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

  init(_ value: Value) {
    self.value = value
    pthread_mutex_init(mutex, nil)
    pthread_cond_init(condition, nil)
  }

  deinit {
    pthread_cond_destroy(condition)
    pthread_mutex_destroy(mutex)
    mutex.deallocate()
    condition.deallocate()
  }

  /// Runs `body` under the lock.
  func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
    pthread_mutex_lock(mutex)
    defer { pthread_mutex_unlock(mutex) }
    return try body(&value)
  }

  /// Runs `body` under the lock, then wakes every waiter to look again.
  func update<R>(_ body: (inout Value) throws -> R) rethrows -> R {
    pthread_mutex_lock(mutex)
    defer {
      pthread_cond_broadcast(condition)
      pthread_mutex_unlock(mutex)
    }
    return try body(&value)
  }

  /// Waits at most `milliseconds` for `ready` to hold; if it does, runs `body` under the same
  /// lock, wakes the others and returns its result; nil when the time passed first.
  func wait<R>(until ready: (Value) -> Bool, milliseconds: Int, then body: (inout Value) throws -> R) rethrows -> R? {
    var deadline = timespec()
    clock_gettime(CLOCK_REALTIME, &deadline)
    let nanoseconds = Int(deadline.tv_nsec) + milliseconds * 1_000_000
    deadline.tv_sec += nanoseconds / 1_000_000_000
    deadline.tv_nsec = nanoseconds % 1_000_000_000
    pthread_mutex_lock(mutex)
    defer { pthread_mutex_unlock(mutex) }
    while !ready(value) {
      if pthread_cond_timedwait(condition, mutex, &deadline) == ETIMEDOUT, !ready(value) { return nil }
    }
    defer { pthread_cond_broadcast(condition) }
    return try body(&value)
  }

  /// Blocks until `ready` holds, then runs `body` under the same lock and wakes the others.
  func wait<R>(until ready: (Value) -> Bool, then body: (inout Value) throws -> R) rethrows -> R {
    pthread_mutex_lock(mutex)
    defer {
      pthread_cond_broadcast(condition)
      pthread_mutex_unlock(mutex)
    }
    while !ready(value) { pthread_cond_wait(condition, mutex) }
    return try body(&value)
  }
}
