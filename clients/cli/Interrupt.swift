import AudienceClient
import Synchronization
internal import CSystemCalls
internal import Glibc

/// Ctrl-C (SIGINT) or SIGTERM during `audience ingest`: the first stops the reading, the batches
/// sent are waited for, and the summary of what the server acknowledged is printed (exit 130);
/// a second ends the process at once, as without this.
enum Interrupt {
  private static let requested = Atomic<Bool>(false)
  /// The write end of a pipe the handler writes a byte to, so that a reader waiting on a quiet
  /// pipe or terminal (`waitReadable`) wakes: the read itself restarts after a signal.
  nonisolated(unsafe) private static var wakeWrite: Int32 = -1
  nonisolated(unsafe) private static var wakeRead: Int32 = -1

  /// Installs the handler for SIGINT and SIGTERM, except where the signal is ignored (a job
  /// started in the background by a script: a Ctrl-C meant for the foreground must not stop it).
  /// The reading stops at the next line or chunk read; a reader waiting on a quiet pipe is woken.
  static func install() {
    var fds: [Int32] = [-1, -1]
    if audience_pipe_cloexec(&fds) == 0 {
      _ = fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK)
      (wakeRead, wakeWrite) = (fds[0], fds[1])
    }
    for s in [SIGINT, SIGTERM] {
      var current = sigaction()
      // SIG_IGN is the handler 1.
      if sigaction(s, nil, &current) == 0, unsafeBitCast(current.__sigaction_handler.sa_handler, to: Int.self) == 1 { continue }
      signal(s) { sig in
        if Interrupt.requested.exchange(true, ordering: .relaxed) {
          signal(sig, SIG_DFL)
          raise(sig)
        }
        var byte: UInt8 = 1
        if Interrupt.wakeWrite >= 0 { _ = write(Interrupt.wakeWrite, &byte, 1) }
      }
    }
  }

  static var isRequested: Bool { requested.load(ordering: .relaxed) }

  private static let lost = Atomic<Bool>(false)

  /// The connection closed (the server died or closed it): a reader waiting on a quiet pipe or
  /// terminal stops as at the end of its input, so the summary of what the server acknowledged
  /// comes at once, not when the producer next writes or closes the pipe.
  static func connectionClosed() {
    guard !lost.exchange(true, ordering: .relaxed) else { return }
    var byte: UInt8 = 1
    if wakeWrite >= 0 { _ = write(wakeWrite, &byte, 1) }
  }

  /// What `waitReadable` saw.
  enum Wait {
    case readable
    case interrupted
    /// Nothing came for `quietAfter`.
    case quiet
    /// The connection closed (`connectionClosed`): read no more.
    case connectionClosed
  }

  /// How long input may be quiet before the records read are sent without waiting for a batch
  /// to fill (a producer that pauses; the server holds the stream open meanwhile).
  static let quietAfter: Int32 = 250  // milliseconds

  /// `waitReadable` for a reader of a pipe: says `quiet` once per pause (`saidQuiet` remembers
  /// it until bytes come again), then waits for bytes alone.
  static func waitForInput(_ fd: Int32, saidQuiet: inout Bool) -> Wait {
    let wait = waitReadable(fd, quietAfter: saidQuiet ? -1 : quietAfter)
    switch wait {
    case .quiet: saidQuiet = true
    case .readable: saidQuiet = false
    case .interrupted, .connectionClosed: break
    }
    return wait
  }

  /// Waits until `fd` can be read, an interrupt comes, or, with `quietAfter` (milliseconds),
  /// nothing came for that long. For a pipe or a terminal, where a read may wait for ever; a
  /// regular file's read does not wait.
  static func waitReadable(_ fd: Int32, quietAfter: Int32 = -1) -> Wait {
    guard wakeRead >= 0 else { return isRequested ? .interrupted : .readable }
    var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
    while true {
      if isRequested { return .interrupted }
      if lost.load(ordering: .relaxed) { return .connectionClosed }
      let n = poll(&fds, 2, quietAfter)
      if isRequested { return .interrupted }
      if lost.load(ordering: .relaxed) { return .connectionClosed }
      if n == 0 { return .quiet }
      if n > 0 || errno != EINTR { return .readable }
    }
  }

  /// How long acknowledgements are waited for after an interrupt.
  static let grace: Duration = .seconds(5)

  /// Whether the wait after an interrupt gave up (the connection was closed), and the client to
  /// close then (none while still connecting).
  final class GaveUp: Sendable {
    private let value = Atomic<Bool>(false)
    private let connected = Mutex<AudienceClient?>(nil)
    func set() { value.store(true, ordering: .relaxed) }
    var isSet: Bool { value.load(ordering: .relaxed) }
    var client: AudienceClient? {
      get { connected.withLock { $0 } }
      set { connected.withLock { $0 = newValue } }
    }
  }

  /// Thrown by the readers once an interrupt was asked for.
  struct Stop: Error {}

  /// Thrown by a reader when the connection closed while it waited for input: the row begun is
  /// not finished as if the file ended there.
  struct ConnectionClosed: Error {}

  static func check() throws(Stop) { if isRequested { throw Stop() } }
}
