import AudienceCore
import CMongoc
import NIOPosix

/// A failed libmongoc call: its error domain and code, and the message.
struct MongoFailure: Error, CustomStringConvertible {
  var domain: UInt32
  var code: UInt32
  var message: String

  init(_ error: bson_error_t) {
    domain = error.domain
    code = error.code
    var e = error
    message = withUnsafeBytes(of: &e.message) { raw in
      String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
    }
  }

  init(server code: UInt32, _ message: String) {
    domain = MONGOC_ERROR_SERVER.rawValue
    self.code = code
    self.message = message
  }

  /// A reply libbson could not read.
  static func unreadable(_ what: String) -> MongoFailure {
    MongoFailure(domain: MONGOC_ERROR_PROTOCOL.rawValue, code: 0, message: "unreadable reply to \(what)")
  }

  init(domain: UInt32, code: UInt32, message: String) {
    self.domain = domain
    self.code = code
    self.message = message
  }

  /// MongoDB's duplicate-key error (11000).
  var isDuplicateKey: Bool { code == 11000 && isServerError }
  /// Reported by a server (as opposed to: no server could be reached).
  var isServerError: Bool {
    domain == MONGOC_ERROR_SERVER.rawValue || domain == MONGOC_ERROR_WRITE_CONCERN.rawValue
      || domain == MONGOC_ERROR_QUERY.rawValue
  }

  /// Server errors that pass (a failover, a node shutting down, a write concern timing out):
  /// MongoDB's retryable codes.
  static let transientCodes: Set<UInt32> = [
    6, 7, 64, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436,
  ]

  /// No server was reached or the connection broke, or the server said it is in transition.
  var isUnavailable: Bool {
    if isServerError { return Self.transientCodes.contains(code) }
    return domain == MONGOC_ERROR_STREAM.rawValue || domain == MONGOC_ERROR_SERVER_SELECTION.rawValue
      || domain == MONGOC_ERROR_PROTOCOL.rawValue || domain == MONGOC_ERROR_POOL.rawValue
      || (domain == MONGOC_ERROR_CLIENT.rawValue && code == MONGOC_ERROR_CLIENT_NOT_READY.rawValue)
  }

  /// MongoDB refused the login of the URI's user (libmongoc's authentication error, or the
  /// server's AuthenticationFailed, 18), or the user may not run the command (Unauthorized, 13).
  var isLoginRefused: Bool {
    (domain == MONGOC_ERROR_CLIENT.rawValue && code == MONGOC_ERROR_CLIENT_AUTHENTICATE.rawValue)
      || (isServerError && (code == 18 || code == 13))
  }

  var description: String { "\(message) (domain \(domain), code \(code))" }

  /// The status the client sees: UNAVAILABLE when MongoDB cannot be reached or is in transition
  /// (retry), FAILED_PRECONDITION when it refuses the server's credentials (nothing to retry until
  /// the operator fixes them), INTERNAL when it refused the request.
  func audienceError(_ what: String) -> AudienceError {
    if isUnavailable { return AudienceError(.unavailable, "MongoDB is unavailable (\(what)): \(message)") }
    if isLoginRefused {
      return AudienceError(
        .failedPrecondition,
        "MongoDB refused audienced's login or rights (\(what)): \(message); check the user, password, authSource and the user's roles in --mongo-uri")
    }
    return AudienceError(.internal, "MongoDB refused \(what): \(message) (domain \(domain), code \(code))")
  }
}

/// A libmongoc client pool and the threads that use it. libmongoc blocks, so every call runs on
/// one of this connection's threads, never on an event loop; each call pops a client from the
/// pool and pushes it back.
final class MongoConnection: @unchecked Sendable {
  private let uri: OpaquePointer
  private let pool: OpaquePointer
  private let threads: NIOThreadPool
  let database: String
  /// The address, without credentials, for messages.
  let hosts: String

  private static let initialized: Bool = {
    mongoc_init()
    // libmongoc's own lines (a debug line a second or two while MongoDB is down) bypass
    // --log-level: only its warnings and errors are written, as the server's would be at the
    // default level; failures reach the log through the store's own messages.
    mongoc_log_set_handler({ level, domain, message, _ in
      guard level.rawValue <= MONGOC_LOG_LEVEL_WARNING.rawValue, let message else { return }
      let line = "libmongoc \(domain.map { String(cString: $0) } ?? ""): \(String(cString: message))\n"
      _ = line.withCString { write(2, $0, strlen($0)) }
    }, nil)
    // A libmongoc without Debian's init-before-main makes its counters' segment here.
    MongoSharedCounters.unlinkName()
    return true
  }()

  /// - Parameters:
  ///   - uri: a MongoDB connection string.
  ///   - database: the database name.
  ///   - threads: how many calls may run at once.
  init(uri text: String, database: String, threads: Int) throws(AudienceError) {
    _ = Self.initialized
    var error = bson_error_t()
    guard let uri = mongoc_uri_new_with_error(text, &error) else {
      throw AudienceError(.invalidArgument, "--mongo-uri: \(MongoFailure(error).message)", field: "mongo-uri")
    }
    // Fail fast while MongoDB is unreachable (UNAVAILABLE in seconds, not libmongoc's 30 s),
    // unless the connection string says otherwise.
    for (option, ms) in [("serverSelectionTimeoutMS", 3000), ("connectTimeoutMS", 3000), ("socketTimeoutMS", 60000)]
    where !mongoc_uri_has_option(uri, option) {
      mongoc_uri_set_option_as_int32(uri, option, Int32(ms))
    }
    if !mongoc_uri_has_option(uri, "maxPoolSize") { mongoc_uri_set_option_as_int32(uri, "maxPoolSize", Int32(threads)) }
    guard let pool = mongoc_client_pool_new_with_error(uri, &error) else {
      mongoc_uri_destroy(uri)
      throw AudienceError(.invalidArgument, "--mongo-uri: \(MongoFailure(error).message)", field: "mongo-uri")
    }
    mongoc_client_pool_set_error_api(pool, 2)
    mongoc_client_pool_set_appname(pool, "audienced")
    var hosts: [String] = []
    var h = mongoc_uri_get_hosts(uri)
    while let host = h {
      hosts.append(withUnsafeBytes(of: host.pointee.host_and_port) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) })
      h = UnsafePointer(host.pointee.next)
    }
    self.hosts = hosts.joined(separator: ",")
    self.uri = uri
    self.pool = pool
    self.database = database
    self.threads = NIOThreadPool(numberOfThreads: threads)
    self.threads.start()
  }

  /// Runs `body` on a pool thread with a client of its own.
  /// - Parameters:
  ///   - what: the operation, for error messages.
  ///   - body: the blocking work.
  func run<T: Sendable>(_ what: String, _ body: @escaping @Sendable (MongoSession) throws -> T) async throws -> T {
    do {
      return try await threads.runIfActive { [self] in
        let client = mongoc_client_pool_pop(pool)!
        defer { mongoc_client_pool_push(pool, client) }
        return try body(MongoSession(client: client, database: database))
      }
    } catch let failure as MongoFailure {
      throw failure.audienceError(what)
    } catch is NIOThreadPoolError.ThreadPoolInactive {
      throw AudienceError(.unavailable, "the MongoDB store is shutting down")
    }
  }

  /// Stops the threads (waiting for running calls) and frees the pool.
  func close() async {
    try? await threads.shutdownGracefully()
    mongoc_client_pool_destroy(pool)
    mongoc_uri_destroy(uri)
  }
}

/// One popped client, used by one thread for one operation.
struct MongoSession {
  let client: OpaquePointer
  let database: String

  private func collection<T>(_ name: String, _ body: (OpaquePointer) throws -> T) rethrows -> T {
    let c = mongoc_client_get_collection(client, database, name)!
    defer { mongoc_collection_destroy(c) }
    return try body(c)
  }

  /// Runs a command that writes (insert, update, delete, findAndModify, createIndexes).
  /// Write errors in the reply are thrown, the first one as a `MongoFailure`.
  @discardableResult
  func write(_ command: JSONValue) throws -> JSONValue {
    let (reply, errors) = try writeReportingErrors(command)
    if let first = errors.first { throw MongoFailure(server: first.code, first.message) }
    return reply
  }

  /// A write error of a command that went on past it (`ordered: false`).
  struct WriteError {
    var index: Int
    var code: UInt32
    var message: String
  }

  /// Runs a write command and returns its write errors instead of throwing them.
  func writeReportingErrors(_ command: JSONValue) throws -> (reply: JSONValue, errors: [WriteError]) {
    let cmd = BSON(command)
    let reply = BSONReply()
    var error = bson_error_t()
    let ok = withExtendedLifetime(cmd) {
      mongoc_client_write_command_with_opts(client, database, cmd.ptr, nil, reply.ptr, &error)
    }
    guard let json = reply.json else { throw ok ? MongoFailure.unreadable("a write") : MongoFailure(error) }
    // A write concern failure is never acknowledged, whatever else the reply says.
    try Self.checkWriteConcern(json)
    let errors = json.array("writeErrors").map {
      WriteError(index: Int($0.int("index") ?? 0), code: UInt32(clamping: $0.int("code") ?? 8), message: $0.string("errmsg") ?? "")
    }
    if !ok && errors.isEmpty { throw MongoFailure(error) }
    return (json, errors)
  }

  /// Throws the reply's write concern error, if any.
  private static func checkWriteConcern(_ reply: JSONValue) throws {
    guard let wce = reply["writeConcernError"], wce != .null else { return }
    throw MongoFailure(
      domain: MONGOC_ERROR_WRITE_CONCERN.rawValue, code: UInt32(clamping: wce.int("code") ?? 64),
      message: wce.string("errmsg") ?? "write concern error")
  }

  /// Runs a read command (count, ping).
  func read(_ command: JSONValue) throws -> JSONValue {
    let cmd = BSON(command)
    let reply = BSONReply()
    var error = bson_error_t()
    let ok = withExtendedLifetime(cmd) {
      mongoc_client_read_command_with_opts(client, database, cmd.ptr, nil, nil, reply.ptr, &error)
    }
    if !ok { throw MongoFailure(error) }
    guard let json = reply.json else { throw MongoFailure.unreadable("a read") }
    return json
  }

  /// The documents matching `filter`, with find options (`sort`, `limit`, `projection`...).
  func find(_ name: String, _ filter: JSONValue, _ options: JSONValue = .object([])) throws -> [JSONValue] {
    let f = BSON(filter)
    let o = BSON(options)
    return try collection(name) { c in
      try withExtendedLifetime((f, o)) {
        try drain(mongoc_collection_find_with_opts(c, f.ptr, o.ptr, nil))
      }
    }
  }

  /// The documents an aggregation pipeline returns.
  func aggregate(_ name: String, _ pipeline: [JSONValue]) throws -> [JSONValue] {
    let p = BSON(.object([("pipeline", .array(pipeline))]))
    return try collection(name) { c in
      try withExtendedLifetime(p) { try drain(mongoc_collection_aggregate(c, MONGOC_QUERY_NONE, p.ptr, nil, nil)) }
    }
  }

  /// How many documents match `filter`.
  func count(_ name: String, _ filter: JSONValue) throws -> Int {
    let f = BSON(filter)
    var error = bson_error_t()
    let n = collection(name) { c in
      withExtendedLifetime(f) { mongoc_collection_count_documents(c, f.ptr, nil, nil, nil, &error) }
    }
    if n < 0 { throw MongoFailure(error) }
    return Int(n)
  }

  private func drain(_ cursor: OpaquePointer?) throws -> [JSONValue] {
    guard let cursor else { return [] }
    defer { mongoc_cursor_destroy(cursor) }
    var out: [JSONValue] = []
    var doc: OpaquePointer?
    while mongoc_cursor_next(cursor, &doc), let d = doc {
      guard let json = BSON.json(d) else { throw MongoFailure.unreadable("a query") }
      out.append(json)
    }
    var error = bson_error_t()
    if mongoc_cursor_error(cursor, &error) { throw MongoFailure(error) }
    return out
  }
}
