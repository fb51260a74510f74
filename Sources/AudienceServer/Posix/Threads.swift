import AudienceCore
internal import Glibc

/// Starts detached threads for the connection layer (pthreads: these threads block in system
/// calls, which Swift concurrency's few shared threads must never do).
enum Threads {
  private final class Body {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
  }

  /// Starts `body` on a new detached thread.
  /// - Parameters:
  ///   - stackBytes: its stack size (nil: the process default, as for any thread).
  ///   - body: what it runs.
  static func start(stackBytes: Int? = nil, _ body: @escaping @Sendable () -> Void) throws(AudienceError) {
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    defer { pthread_attr_destroy(&attributes) }
    pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
    if let stackBytes { pthread_attr_setstacksize(&attributes, stackBytes) }
    let box = Unmanaged.passRetained(Body(body)).toOpaque()
    var thread = pthread_t()
    let rc = pthread_create(&thread, &attributes, { raw in
      let body = Unmanaged<Body>.fromOpaque(raw!).takeRetainedValue()
      body.run()
      return nil
    }, box)
    guard rc == 0 else {
      Unmanaged<Body>.fromOpaque(box).release()
      throw AudienceError(.resourceExhausted, "cannot start a thread: \(String(cString: strerror(rc)))")
    }
  }
}
