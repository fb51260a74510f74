import AudienceCore
import Logging
import Synchronization
internal import CSystemCalls
internal import Glibc

/// The listening socket and the thread that accepts on it, until `stop()`.
final class Listener: Sendable {
  let fd: Int32
  /// A pipe written by `stop()` to wake the accepting thread.
  private let wake: (read: Int32, write: Int32)
  /// Set, under this lock, when the accepting thread closes the pipe: `stop()` then does nothing.
  private let closed = Mutex(false)
  private let logger: Logger

  /// - Parameters:
  ///   - fd: a bound, listening, non-blocking socket; closed when accepting stops.
  ///   - logger: where running out of descriptors is said.
  init(fd: Int32, logger: Logger = Logger(label: "audienced")) throws(AudienceError) {
    self.fd = fd
    self.logger = logger
    var ends: [Int32] = [0, 0]
    // Close-on-exec from the start (atomically: a thread spawning a process meanwhile cannot
    // pass them on).
    guard audience_pipe_cloexec(&ends) == 0 else {
      throw AudienceError(.unavailable, "cannot create a pipe: \(String(cString: strerror(errno)))")
    }
    wake = (ends[0], ends[1])
  }

  /// Accepts connections on a thread of its own and hands each to `accepted` (on that thread),
  /// until `stop()`; then closes the socket and returns.
  func run(_ accepted: @escaping @Sendable (Int32) -> Void) async throws(AudienceError) {
    let result = await withCheckedContinuation { (c: CheckedContinuation<AudienceError?, Never>) in
      do throws(AudienceError) {
        try Threads.start(name: "audience-accept") {
          self.accept(accepted)
          c.resume(returning: nil)
        }
      } catch {
        c.resume(returning: error)
      }
    }
    if let result { throw result }
  }

  /// Stops accepting (from any thread, any number of times).
  func stop() {
    closed.withLock { closed in
      guard !closed else { return }
      var byte: UInt8 = 1
      _ = write(wake.write, &byte, 1)
    }
  }

  private func accept(_ accepted: (Int32) -> Void) {
    defer {
      close(fd)
      closed.withLock { closed in
        closed = true
        close(wake.read)
        close(wake.write)
      }
    }
    var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0)]
    var lastSaid: ContinuousClock.Instant?
    while true {
      fds[0].revents = 0
      fds[1].revents = 0
      guard poll(&fds, 2, -1) >= 0 || errno == EINTR else { return }
      if fds[1].revents != 0 { return }
      guard fds[0].revents != 0 else { continue }
      let connection = audience_accept_cloexec(fd)
      if connection >= 0 {
        accepted(connection)
      } else if errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM {
        // Out of descriptors or memory: let connections close before accepting again. Said (every
        // 10 s at most): clients waited unanswered, and nothing told the operator why.
        let error = String(cString: strerror(errno))
        if lastSaid.map({ ContinuousClock.now - $0 > .seconds(10) }) ?? true {
          lastSaid = .now
          logger.warning(
            "cannot accept connections: \(error); new clients wait until connections close (raise the open files limit, LimitNOFILE or ulimit -n)")
        }
        usleep(10_000)
      }
    }
  }
}
