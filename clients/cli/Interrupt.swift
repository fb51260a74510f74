import Synchronization
internal import Glibc

/// Ctrl-C (SIGINT) or SIGTERM during `audience ingest`: the first stops the reading, the batches
/// sent are waited for, and the summary of what the server acknowledged is printed (exit 130);
/// a second ends the process at once, as without this.
enum Interrupt {
  private static let requested = Atomic<Bool>(false)

  /// Installs the handler for SIGINT and SIGTERM, except where the signal is ignored (a job
  /// started in the background by a script: a Ctrl-C meant for the foreground must not stop it).
  /// The reading stops at the next line or chunk read; a read waiting on a quiet pipe goes on
  /// waiting (a second signal then ends the process).
  static func install() {
    for s in [SIGINT, SIGTERM] {
      var current = sigaction()
      // SIG_IGN is the handler 1.
      if sigaction(s, nil, &current) == 0, unsafeBitCast(current.__sigaction_handler.sa_handler, to: Int.self) == 1 { continue }
      signal(s) { sig in
        if Interrupt.requested.exchange(true, ordering: .relaxed) {
          signal(sig, SIG_DFL)
          raise(sig)
        }
      }
    }
  }

  static var isRequested: Bool { requested.load(ordering: .relaxed) }

  /// Thrown by the readers once an interrupt was asked for.
  struct Stop: Error {}

  static func check() throws(Stop) { if isRequested { throw Stop() } }
}
