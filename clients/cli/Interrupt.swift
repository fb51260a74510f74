import Synchronization
internal import Glibc

/// Ctrl-C (SIGINT) or SIGTERM during `audience ingest`: the first stops the reading, the batches
/// sent are waited for, and the summary of what the server acknowledged is printed (exit 130);
/// a second ends the process at once, as without this.
enum Interrupt {
  private static let requested = Atomic<Bool>(false)

  static func install() {
    for s in [SIGINT, SIGTERM] {
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
