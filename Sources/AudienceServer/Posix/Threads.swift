import AudienceCore
internal import Glibc

/// Starts detached threads for the connection layer (pthreads: these threads block in system
/// calls, which Swift concurrency's few shared threads must never do).
enum Threads {
  private final class Body {
    let name: String
    let run: @Sendable () -> Void
    init(_ name: String, _ run: @escaping @Sendable () -> Void) {
      self.name = name
      self.run = run
    }
  }

  /// Starts `body` on a new detached thread.
  /// - Parameters:
  ///   - name: the thread's name in `top -H`, `perf` and debuggers (at most 15 bytes are kept).
  ///   - stackBytes: its stack size (nil: the process default, as for any thread).
  ///   - body: what it runs.
  static func start(name: String, stackBytes: Int? = nil, _ body: @escaping @Sendable () -> Void) throws(AudienceError) {
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    defer { pthread_attr_destroy(&attributes) }
    pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
    if let stackBytes { pthread_attr_setstacksize(&attributes, stackBytes) }
    let box = Unmanaged.passRetained(Body(name, body)).toOpaque()
    var thread = pthread_t()
    let rc = pthread_create(&thread, &attributes, { raw in
      let body = Unmanaged<Body>.fromOpaque(raw!).takeRetainedValue()
      Threads.name(body.name)
      body.run()
      return nil
    }, box)
    guard rc == 0 else {
      Unmanaged<Body>.fromOpaque(box).release()
      throw AudienceError(.resourceExhausted, "cannot start a thread: \(String(cString: strerror(rc)))")
    }
  }

  /// Names the calling thread (Linux: its `comm`, as `pthread_setname_np` does).
  private static func name(_ name: String) {
    let fd = open("/proc/thread-self/comm", O_WRONLY)
    guard fd >= 0 else { return }
    defer { close(fd) }
    let bytes = Array(name.utf8.prefix(15))
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
  }
}
