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
/// The parent is read as the server starts (`parent`); if it has already been adopted by
/// process 1 then, its starter is already gone and the server stops as soon as it is up.
struct ParentWatch: Service {
  let parent: pid_t
  let logger: Logger

  func run() async throws {
    while !Task.isShuttingDownGracefully, !Task.isCancelled {
      if parent == 1 || getppid() != parent {
        logger.notice("the parent process ended (--exit-with-parent): stopping", metadata: ["parent.pid": "\(parent)"])
        return  // the group then shuts down gracefully
      }
      try? await Task.sleep(for: .milliseconds(250))
    }
  }
}
