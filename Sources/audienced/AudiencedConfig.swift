import AudienceCore
import AudienceMongo
import AudienceServer
import AudienceStore
import Logging
import ServiceLifecycle
internal import Glibc

/// Everything `audienced` needs to build its services; tests build it in memory.
struct AudiencedConfig {
  var server: ServerConfiguration
  var dataDirectory: String
  var limits = RecordLimits.default
  /// The embedded store's thread priorities.
  var threadNice = EmbeddedStore.ThreadNice.standard
  /// Set for `--store mongodb`.
  var mongo: MongoSettings?
}

/// Where the MongoDB store connects.
struct MongoSettings {
  var uri: String
  var database: String
  var threads: Int
}

/// Builds the store and the server, in dependency order: the group starts them in this
/// order and shuts them down in reverse (server first, then the store flushes and closes).
/// - Parameters:
///   - config: the configuration.
///   - logger: the root logger.
func buildServices(config: AudiencedConfig, logger: Logger) throws -> [any Service] {
  let store: any ProfileStore & Service
  if let mongo = config.mongo {
    store = try MongoStore(
      uri: mongo.uri, database: mongo.database, limits: config.limits, categories: config.server.categories,
      threads: mongo.threads, logger: logger)
  } else {
    store = try EmbeddedStore(directory: config.dataDirectory, limits: config.limits, logger: logger, threadNice: config.threadNice)
  }
  let server = AudienceServer(
    configuration: config.server, store: store, normalizer: RecordNormalizer(limits: config.limits), logger: logger)
  return [store, server]
}

/// The listening socket systemd passes to a socket-activated service (`LISTEN_FDS=1` for this
/// process, the socket being fd 3), or nil when started otherwise.
func systemdSocket(_ env: [String: String]) throws -> Int32? {
  guard let count = env["LISTEN_FDS"], let pid = env["LISTEN_PID"].flatMap({ Int32($0) }), pid == getpid() else {
    return nil
  }
  guard count == "1" else {
    throw AudienceError(.invalidArgument, "systemd passed \(count) sockets; audienced serves one (a single ListenStream=)")
  }
  var st = stat()
  guard fstat(3, &st) == 0, (st.st_mode & S_IFMT) == S_IFSOCK else {
    throw AudienceError(.invalidArgument, "LISTEN_FDS=1 but file descriptor 3 is not a socket")
  }
  // Only a Unix stream socket: callers are told apart by their peer credentials, which a TCP
  // peer has none of (a ListenStream=127.0.0.1:9000 would serve anyone who can reach the port).
  var domain: Int32 = 0
  var type: Int32 = 0
  var size = socklen_t(MemoryLayout<Int32>.size)
  guard getsockopt(3, SOL_SOCKET, SO_DOMAIN, &domain, &size) == 0, domain == AF_UNIX else {
    throw AudienceError(
      .invalidArgument, "systemd passed a socket that is not a Unix domain socket; audienced serves only ListenStream=/path/to/socket")
  }
  size = socklen_t(MemoryLayout<Int32>.size)
  guard getsockopt(3, SOL_SOCKET, SO_TYPE, &type, &size) == 0, type == Int32(SOCK_STREAM.rawValue) else {
    throw AudienceError(
      .invalidArgument, "systemd passed a Unix socket that is not a stream socket; audienced serves only ListenStream= (not ListenDatagram= or ListenSequentialPacket=)")
  }
  return 3
}

/// A user name or number as a uid.
func userID(_ name: String) throws -> UInt32 {
  if let n = UInt32(name) { return n }
  guard let pw = getpwnam(name) else { throw AudienceError(.invalidArgument, "--socket-owner: no user \"\(name)\"") }
  return pw.pointee.pw_uid
}

/// A group name or number as a gid.
func groupID(_ name: String) throws -> UInt32 {
  if let n = UInt32(name) { return n }
  guard let gr = getgrnam(name) else { throw AudienceError(.invalidArgument, "--socket-group: no group \"\(name)\"") }
  return gr.pointee.gr_gid
}

/// The whole text of a (small) file.
func readFile(_ path: String) throws -> String {
  guard let f = fopen(path, "r") else {
    throw AudienceError(.invalidArgument, "cannot open \(path): \(String(cString: strerror(errno)))")
  }
  defer { fclose(f) }
  // A directory opens, and reads as nothing: said as what it is, not as invalid JSON.
  var st = stat()
  if fstat(fileno(f), &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR { throw AudienceError(.invalidArgument, "\(path) is a directory") }
  var bytes: [UInt8] = []
  var chunk = [UInt8](repeating: 0, count: 65536)
  while true {
    let n = fread(&chunk, 1, chunk.count, f)
    if n <= 0 { break }
    bytes += chunk[0..<n]
    if bytes.count > 16 << 20 { throw AudienceError(.invalidArgument, "\(path) is larger than 16 MiB") }
  }
  return String(decoding: bytes, as: UTF8.self)
}

/// Read-only view of the process environment. A variable set to nothing counts as unset (a
/// unit file's `Environment=AUDIENCE_SOCKET=` or an empty shell variable): the default applies.
enum Environment {
  static var current: [String: String] {
    var result: [String: String] = [:]
    var p = environ
    while let entry = p.pointee {
      let s = String(cString: entry)
      if let eq = s.firstIndex(of: "="), s.index(after: eq) < s.endIndex {
        result[String(s[..<eq])] = String(s[s.index(after: eq)...])
      }
      p += 1
    }
    return result
  }
}
