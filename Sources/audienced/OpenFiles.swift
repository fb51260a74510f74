import Glibc
import Logging

/// The process's limit on open files, against `--max-connections`.
enum OpenFiles {
  /// Descriptors the server needs besides its connections: the store's files, the listener,
  /// the event and signal descriptors, and some to spare.
  static let reserve = 64

  /// Raises the soft limit on open files to the hard one when it is below what
  /// `maxConnections` connections need (systemd gives services a soft limit of 1,024, the
  /// default `--max-connections`): past it, `accept` fails and clients wait unanswered. Warns
  /// when even the hard limit is lower.
  static func raiseLimit(for maxConnections: Int, logger: Logger) {
    var limit = rlimit()
    guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
    let needed = rlim_t(min(maxConnections, 1 << 30) + reserve)  // no overflow for --max-connections 2^63 - 1
    guard limit.rlim_cur < needed else { return }
    let raised = rlimit(rlim_cur: min(limit.rlim_max, needed), rlim_max: limit.rlim_max)
    if setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), [raised]) != 0 { return warn(limit.rlim_cur, maxConnections, logger) }
    if raised.rlim_cur < needed { warn(raised.rlim_cur, maxConnections, logger) }
  }

  private static func warn(_ limit: rlim_t, _ maxConnections: Int, _ logger: Logger) {
    logger.warning(
      "the open files limit is below what --max-connections needs: connections past it wait unanswered (raise LimitNOFILE or ulimit -n)",
      metadata: ["audience.open_files_limit": "\(limit)", "audience.max_connections": "\(maxConnections)"])
  }
}
