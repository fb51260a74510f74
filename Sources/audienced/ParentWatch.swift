import Glibc
import Logging
import ServiceLifecycle

/// `--exit-with-parent`: stops the server (gracefully, as SIGTERM does) once the process that
/// started it has ended. A test harness or a script that dies without stopping its server
/// would otherwise leave it running, holding its memory and socket. The parent's end is seen
/// as this process being adopted by another (`getppid()` changes), checked four times a second:
/// a parent-death signal (`PR_SET_PDEATHSIG`) would fire when the *thread* that started the
/// server ends, which in a multithreaded parent may be long before the parent does.
///
/// The parent is read as the server starts (`parent`, the first thing `run` does); a starter
/// that dies before then goes unseen.
struct ParentWatch: Service {
  let parent: pid_t
  let logger: Logger

  func run() async throws {
    // Cancelled at once by a shutdown for another reason (a sleep would hold it back).
    try? await cancelWhenGracefulShutdown {
      while getppid() == parent { try await Task.sleep(for: .milliseconds(250)) }
      logger.notice("the parent process ended (--exit-with-parent): stopping", metadata: ["parent.pid": "\(parent)"])
    }
  }
}
