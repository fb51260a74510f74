#if canImport(Glibc)
import Glibc
#endif

/// libmongoc 1.x as Debian builds it initializes itself before `main` (its deprecated automatic
/// init) and keeps performance counters in a shared-memory segment named `/mongoc-<pid>`, which
/// only a clean exit removes. A process killed with SIGKILL leaves it in /dev/shm, and a later
/// process that gets the same pid cannot create its own: libmongoc then prints "Falling back to
/// malloc for counters" on stderr, even for `audienced --help`.
public enum MongoSharedCounters {
  /// Removes this process's segment name at once. The mapping stays valid, so libmongoc keeps
  /// counting in it; only `mongoc-stat <pid>` can no longer read it. Nothing is left in
  /// /dev/shm however the process ends.
  public static func unlinkName() {
    _ = shm_unlink("/mongoc-\(getpid())")
  }
}
