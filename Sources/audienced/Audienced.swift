import ArgumentParser
import Glibc
import AudienceCore
import AudienceMongo
import AudienceServer
import AudienceStore
import CSystemCalls
import Logging
import ServiceLifecycle
import UnixSignals

/// `audienced`: parses flags (falling back to the environment) and runs the server.
@main
struct Audienced: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "audienced",
    abstract: "The Audience server: user records in, resolved people, cohorts and segments out, over a Unix socket.",
    discussion: """
      Listens on a Unix domain socket for length-prefixed protobuf requests (docs/PROTOCOL.md). \
      Stops gracefully on SIGTERM, SIGINT or SIGHUP (a closed terminal): finishes requests in flight, flushes the store, \
      removes the socket file. Limits, permissions and backups: docs/OPERATIONS.md.
      """,
    version: audienceVersion)

  static func main() async {
    // Before anything can end the process (a parse error, --help, a signal).
    MongoSharedCounters.unlinkName()
    await main(nil)
  }

  @Option(name: .long, help: "Unix socket to listen on (env AUDIENCE_SOCKET; default ./audience.sock).")
  var socket: String?

  @Option(name: .customLong("data-dir"), help: "Directory of the embedded store (env AUDIENCE_DATA_DIR; default ./data).")
  var dataDir: String?

  @Option(name: .long, help: "Store to use: embedded (local, the default) or mongodb (docs/MONGODB.md).")
  var store: String = "embedded"

  @Option(name: .customLong("mongo-uri"), help: "MongoDB connection string for --store mongodb (env MONGO_URI; default mongodb://localhost:27017/).")
  var mongoURI: String?

  @Option(name: .customLong("mongo-db"), help: "MongoDB database for --store mongodb (env MONGO_DB; default user_database).")
  var mongoDB: String?

  @Option(name: .customLong("mongo-threads"), parsing: .unconditional, help: "MongoDB calls that may run at once (--store mongodb).")
  var mongoThreads: Int = 8

  @Option(name: .customLong("socket-mode"), help: "Permissions of the socket file, octal.")
  var socketMode: String = "660"

  @Option(name: .customLong("socket-owner"), help: "User (name or uid) to own the socket file (default: the server's user; needs root to change).")
  var socketOwner: String?

  @Option(name: .customLong("socket-group"), help: "Group (name or gid) of the socket file, so its members may connect with mode 660.")
  var socketGroup: String?

  @Option(name: .customLong("max-frame-bytes"), parsing: .unconditional, help: "Largest request frame accepted, in bytes.")
  var maxFrameBytes: Int = 4 << 20

  @Option(name: .customLong("max-records-per-batch"), parsing: .unconditional, help: "Most records in one Ingest request.")
  var maxRecordsPerBatch: Int = 10_000

  @Option(name: .customLong("max-in-flight"), parsing: .unconditional, help: "Requests processed at once per connection.")
  var maxInFlight: Int = 64

  @Option(name: .customLong("max-connections"), parsing: .unconditional, help: "Connections served at once (each is served by a thread of its own).")
  var maxConnections: Int = 1024

  @Option(name: .customLong("max-buffered-bytes"), parsing: .unconditional, help: "Response bytes a connection may leave unread before the server stops reading its requests.")
  var maxBufferedBytes: Int = 4 << 20

  @Option(
    name: .customLong("max-ingest-bytes"),
    parsing: .unconditional,
    help: "Bytes of ingest requests held at once across connections, until the store has answered each, and of frames of 64 KiB or more while they are read; past it, a connection sending more waits, unread (one request alone always goes through).")
  var maxIngestBytes: Int = 64 << 20

  @Option(
    name: .customLong("packed-view-cache"),
    parsing: .unconditional, help: "Profiles whose encoded views GetUser and QueryCohort keep ready (about 200 bytes each once read; 0 encodes every view per request).")
  var packedViewCache: Int = 1 << 20

  @Option(
    name: .customLong("packed-view-cache-bytes"),
    parsing: .unconditional, help: "Most bytes the kept views may hold; a view past it is encoded per request.")
  var packedViewCacheBytes: Int = 512 << 20

  @Option(name: .customLong("allow-uid"), help: "Only peers with this user id may connect (repeatable; with --allow-gid, either suffices).")
  var allowUID: [UInt32] = []

  @Option(name: .customLong("allow-gid"), help: "Only peers in this group id (primary or supplementary) may connect (repeatable).")
  var allowGID: [UInt32] = []

  @Option(name: .customLong("idle-timeout"), parsing: .unconditional, help: "Close connections idle this many seconds (no request, watch or bytes).")
  var idleTimeout: Int = 300

  @Option(name: .customLong("frame-timeout"), parsing: .unconditional, help: "Close a connection whose frame is not complete this many seconds after its first byte.")
  var frameTimeout: Int = 30

  @Option(name: .customLong("drain-timeout"), parsing: .unconditional, help: "At shutdown, give connections this many seconds to finish their requests and write the responses, then close them.")
  var drainTimeout: Int = 10

  @Option(
    name: .customLong("max-identifiers-per-profile"),
    parsing: .unconditional, help: "Most cookies plus emails one profile may hold; links past it are refused and reported.")
  var maxIdentifiersPerProfile: Int = 1000

  @Option(
    name: .customLong("blocked-identifiers"),
    help: "Comma-separated placeholder values that are not identifiers: a cookie equal to one is rejected, an email equal to one is dropped (\"\" blocks none; default: null, undefined, none, nil, nan, n/a, unknown).")
  var blockedIdentifiers: String?

  @Option(name: .long, help: "Interest categories for analytics: a JSON file shaped like interest-categories.json (default: Sports, Tech, Movies, Finance, else Other).")
  var categories: String?

  // `.unconditional`: the value may be negative (-20 was read as an option, "Missing value").
  @Option(
    name: .customLong("commit-nice"), parsing: .unconditional,
    help: "Nice value of the embedded store's commit threads (-20...19; default -10: a bulk load's commits go first; below the server's needs CAP_SYS_NICE, else they keep the server's; 0 leaves them alone).")
  var commitNice: Int32 = EmbeddedStore.ThreadNice.standard.commit

  // `.unconditional`: the value may be negative (-20 was read as an option, "Missing value").
  @Option(
    name: .customLong("index-nice"), parsing: .unconditional,
    help: "Nice value of the embedded store's index thread (-20...19; default 0: the server's; queries wait for it, so raising it slows them during a bulk load).")
  var indexNice: Int32 = EmbeddedStore.ThreadNice.standard.indexer

  @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical (env AUDIENCE_LOG_LEVEL).")
  var logLevel: String?

  @Flag(
    name: .customLong("exit-with-parent"),
    help: "Stop (gracefully, as on SIGTERM) when the process that started the server ends: for test harnesses and scripts.")
  var exitWithParent = false

  static let minFrameBytes = 4 << 10
  static let maxFrameBytesLimit = 1 << 30

  func run() async throws {
    // First: the sooner it is read, the smaller the window in which a parent could die unseen.
    let parent = getppid()
    let env = Environment.current
    let levelName = logLevel ?? env["AUDIENCE_LOG_LEVEL"] ?? "info"
    guard let level = Logger.Level(rawValue: levelName) else {
      let source = logLevel == nil ? "AUDIENCE_LOG_LEVEL" : "--log-level"
      throw ValidationError("\(source): \"\(levelName)\" is not one of trace, debug, info, notice, warning, error, critical")
    }
    guard let mode = UInt32(socketMode, radix: 8), mode <= 0o777 else {
      throw ValidationError("--socket-mode: \"\(socketMode)\" is not an octal mode such as 660")
    }
    guard store == "embedded" || store == "mongodb" else {
      throw ValidationError("--store: \"\(store)\" is not a store (use embedded or mongodb)")
    }
    for (name, value) in [("--max-frame-bytes", maxFrameBytes), ("--max-records-per-batch", maxRecordsPerBatch),
                          ("--max-in-flight", maxInFlight), ("--max-connections", maxConnections),
                          ("--idle-timeout", idleTimeout), ("--frame-timeout", frameTimeout), ("--drain-timeout", drainTimeout),
                          ("--max-identifiers-per-profile", maxIdentifiersPerProfile),
                          ("--max-buffered-bytes", maxBufferedBytes), ("--max-ingest-bytes", maxIngestBytes),
                          ("--mongo-threads", mongoThreads)] where value < 1 {
      throw ValidationError("\(name): must be at least 1")
    }
    // Below a few KiB no client's Hello fits; past 1 GiB a frame's buffer (its length and 4) could
    // pass what a buffer holds: a peer's header of 2^32 - 1 crashed a server run with that limit.
    guard (Self.minFrameBytes...Self.maxFrameBytesLimit).contains(maxFrameBytes) else {
      throw ValidationError("--max-frame-bytes: \(maxFrameBytes) is not within \(Self.minFrameBytes) to \(Self.maxFrameBytesLimit) (1 GiB)")
    }
    LoggingSystem.bootstrap { label in
      var handler = StreamLogHandler.standardError(label: label)
      handler.logLevel = level
      return handler
    }
    // An empty path (an unset variable in a unit file) is a usage error, said as one.
    for (name, value) in [("--socket", socket), ("--data-dir", dataDir)] where value?.isEmpty == true {
      throw ValidationError("\(name) is empty")
    }
    var serverConfig = ServerConfiguration(
      socketPath: socket ?? env["AUDIENCE_SOCKET"] ?? "./audience.sock", socketMode: mode,
      maxFrameBytes: maxFrameBytes, maxRecordsPerBatch: maxRecordsPerBatch,
      maxInFlightPerConnection: maxInFlight, maxConnections: maxConnections)
    if !allowUID.isEmpty || !allowGID.isEmpty {
      serverConfig.allowedUIDs = Set(allowUID)
      serverConfig.allowedGIDs = Set(allowGID)
    }
    do {
      serverConfig.socketOwner = try socketOwner.map(userID)
      serverConfig.socketGroup = try socketGroup.map(groupID)
    } catch let error as AudienceError {
      throw ValidationError(error.message)
    }
    do {
      serverConfig.inheritedSocket = try systemdSocket(env)
    } catch let error as AudienceError {
      throw ValidationError(error.message)
    }
    if let problem = serverConfig.socketPathProblem { throw ValidationError(problem) }
    serverConfig.maxBufferedBytes = maxBufferedBytes
    serverConfig.maxIngestBytes = maxIngestBytes
    guard packedViewCache >= 0 else { throw ValidationError("--packed-view-cache: must be 0 or more") }
    serverConfig.packedViewCache = packedViewCache
    guard packedViewCacheBytes >= 0 else { throw ValidationError("--packed-view-cache-bytes: must be 0 or more") }
    serverConfig.packedViewCacheBytes = packedViewCacheBytes
    serverConfig.idleTimeout = .seconds(idleTimeout)
    serverConfig.frameTimeout = .seconds(frameTimeout)
    serverConfig.drainTimeout = .seconds(drainTimeout)
    if let categories {
      do {
        serverConfig.categories = try InterestCategories(json: JSONValue(parsing: try readFile(categories)))
      } catch {
        throw ValidationError("--categories \(categories): \(error)")
      }
    }
    var config = AudiencedConfig(
      server: serverConfig,
      dataDirectory: dataDir ?? env["AUDIENCE_DATA_DIR"] ?? "./data")
    if store == "mongodb" {
      config.mongo = MongoSettings(
        uri: mongoURI ?? env["MONGO_URI"] ?? "mongodb://localhost:27017/",
        database: mongoDB ?? env["MONGO_DB"] ?? "user_database", threads: mongoThreads)
    }
    guard (-20...19).contains(commitNice) else {
      throw ValidationError("--commit-nice: \(commitNice) is not a nice value (-20 to 19)")
    }
    config.threadNice.commit = commitNice
    guard (-20...19).contains(indexNice) else {
      throw ValidationError("--index-nice: \(indexNice) is not a nice value (-20 to 19)")
    }
    config.threadNice.indexer = indexNice
    config.limits.maxIdentifiersPerProfile = maxIdentifiersPerProfile
    if let blockedIdentifiers {
      config.limits.blockedIdentifiers = Set(
        blockedIdentifiers.split(separator: ",").map { String($0).trimmingWhitespace().lowercased() }.filter { !$0.isEmpty })
    }
    let logger = Logger(label: "audienced")
    // Whoever reads stderr may go (`audienced | head`, a logger that exits): the next log line's
    // SIGPIPE ended the server on the spot, without a graceful stop. Writes then fail instead.
    signal(SIGPIPE, SIG_IGN)
    OpenFiles.raiseLimit(for: maxConnections, logger: logger)
    // Opening the store can take a while (a replay after a crash): a stop meanwhile is said on
    // stderr. The service group's graceful stop replaces this once it runs.
    audience_log_startup_signals()
    do {
      try await serve(config: config, logger: logger, parent: parent)
    } catch let error as AudienceError {
      // For the operator, what went wrong, without the protocol's status code
      // ("Error: UNAVAILABLE: cannot open data directory ...").
      throw StartupFailure(description: error.message)
    }
  }

  /// What stopped the server, as said on stderr (exit 1).
  struct StartupFailure: Error, CustomStringConvertible {
    var description: String
  }

  private func serve(config: AudiencedConfig, logger: Logger, parent: pid_t) async throws {
    var services = try buildServices(config: config, logger: logger).map {
      ServiceGroupConfiguration.ServiceConfiguration(service: $0)
    }
    if exitWithParent {
      // Last, so the first a shutdown signals: it returning (the parent gone) then starts the
      // graceful shutdown of the others; added before another service, it would end the group
      // unexpectedly if the parent died during a shutdown.
      services.append(.init(service: ParentWatch(parent: parent, logger: logger), successTerminationBehavior: .gracefullyShutdownGroup))
    }
    let group = ServiceGroup(
      configuration: ServiceGroupConfiguration(
        services: services,
        gracefulShutdownSignals: [.sigterm, .sigint, .sighup],
        logger: logger))
    try await group.run()
  }
}
