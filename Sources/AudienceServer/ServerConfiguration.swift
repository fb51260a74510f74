public import AudienceCore
internal import Glibc

/// How the server listens and what it accepts. Every limit has a default fit for one host.
public struct ServerConfiguration: Sendable {
  /// Interest categories for Analyze (default: the original specification's).
  public var categories: InterestCategories = .standard
  /// The Unix domain socket path.
  public var socketPath: String
  /// Permission bits of the socket file (default 0660: owner and group).
  public var socketMode: UInt32
  /// A listening Unix socket handed over by systemd (socket activation): served instead of
  /// binding `socketPath`, whose file systemd owns (mode, owner and group are its `.socket` unit's).
  public var inheritedSocket: Int32?
  /// Owner and group given to the socket file (nil: the server's own).
  public var socketOwner: UInt32?
  public var socketGroup: UInt32?
  /// Largest frame payload accepted, in bytes (default 4 MiB).
  public var maxFrameBytes: Int
  /// Most records in one Ingest request (default 10,000).
  public var maxRecordsPerBatch: Int
  /// Requests being processed at once on one connection; further frames wait unread (default 64).
  public var maxInFlightPerConnection: Int
  /// Bytes of responses a connection may have waiting for the peer to read before the server
  /// stops reading its requests (default 4 MiB).
  public var maxBufferedBytes = 4 << 20
  /// Bytes of ingest requests (their frames) the server holds at once across connections, from
  /// when each is read until the store has answered it; past it, a connection sending another
  /// waits, unread (default 64 MiB; a request alone always goes through). Each connection's
  /// own limits (`maxInFlightPerConnection`, a stream's window) bound one connection, not many.
  public var maxIngestBytes = 64 << 20
  /// A connection with no request in flight, no watch and no bytes arriving for this long is
  /// closed (default 300 s).
  public var idleTimeout: Duration = .seconds(300)
  /// A frame must arrive whole within this long of its first byte, or the connection is closed:
  /// a client trickling bytes cannot hold a connection (default 30 s).
  public var frameTimeout: Duration = .seconds(30)
  /// At shutdown, connections get this long to finish their requests in flight and write the
  /// responses; then they are closed (default 10 s).
  public var drainTimeout: Duration = .seconds(10)
  /// When either is set, only peers whose user id is in `allowedUIDs` or whose group id is in
  /// `allowedGIDs` (from SO_PEERCRED) may connect; others are told PERMISSION_DENIED. Both nil:
  /// the socket file's permissions decide alone.
  public var allowedUIDs: Set<UInt32>?
  public var allowedGIDs: Set<UInt32>?
  /// Watches open at once on one connection; more are refused with RESOURCE_EXHAUSTED (default 16).
  public var maxWatchesPerConnection = 16
  /// Ingest streams open at once on one connection.
  public var maxIngestStreamsPerConnection = 4
  /// Unacknowledged batches an ingest stream gets when it asks for none; and the most it may ask
  /// for. Each batch waiting holds about a frame's worth of records (`maxFrameBytes`, decoded).
  /// 32 keeps the pipeline full while a commit waits for its fsync (8 left both cores idle a
  /// sixth of the time: 1,000,000 records loaded 1-12% slower, median 8%); queries are not
  /// slowed by it (docs/BENCHMARKS.md).
  public var defaultIngestWindow = 32
  public var maxIngestWindow = 32
  /// Profiles whose packed views (GetUser's and QueryCohort's encoding of a profile) the server
  /// keeps, re-packed when the profile changes; 0 packs every view per request (default 1,048,576;
  /// about 200 bytes per profile read).
  public var packedViewCache = 1 << 20
  /// Most bytes of packed views kept (default 512 MiB); a view that would pass it is packed per
  /// request instead, so profiles with very large fields cannot grow the cache without bound.
  public var packedViewCacheBytes = 512 << 20
  /// Connections served at once; more are told RESOURCE_EXHAUSTED and closed (default 1024).
  public var maxConnections: Int
  /// Reported in Hello and Health.
  public var serverVersion: String

  /// - Parameters:
  ///   - socketPath: where to listen.
  ///   - socketMode: socket file permissions.
  ///   - maxFrameBytes: frame size limit.
  ///   - maxRecordsPerBatch: records per Ingest limit.
  ///   - maxInFlightPerConnection: pipelining limit per connection.
  ///   - maxConnections: connection limit.
  ///   - serverVersion: version string.
  public init(
    socketPath: String, socketMode: UInt32 = 0o660, maxFrameBytes: Int = 4 << 20, maxRecordsPerBatch: Int = 10_000,
    maxInFlightPerConnection: Int = 64, maxConnections: Int = 1024, serverVersion: String = audienceVersion
  ) {
    self.socketPath = socketPath
    self.socketMode = socketMode
    self.maxFrameBytes = maxFrameBytes
    self.maxRecordsPerBatch = maxRecordsPerBatch
    self.maxInFlightPerConnection = maxInFlightPerConnection
    self.maxConnections = maxConnections
    self.serverVersion = serverVersion
  }
}

/// This build's version.
public let audienceVersion = "0.1.0"

extension ServerConfiguration {
  /// Why the socket path cannot be listened on (too long for a Unix socket address, or its
  /// directory missing or not a directory), or nil: checked at start, before a store that may
  /// take seconds to load (it was found only after).
  public var socketPathProblem: String? {
    guard inheritedSocket == nil else { return nil }
    let path = socketPath
    if path.utf8.count > UnixSocket.maxPathBytes {
      return "socket path \(path) is \(path.utf8.count) bytes; a Unix socket path holds at most \(UnixSocket.maxPathBytes)"
    }
    let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
    var st = stat()
    guard stat(directory.isEmpty ? "/" : directory, &st) == 0 else {
      return "cannot use socket path \(path): its directory \(directory): \(String(cString: strerror(errno)))"
    }
    guard (st.st_mode & S_IFMT) == S_IFDIR else { return "cannot use socket path \(path): \(directory) is not a directory" }
    // What binding would refuse, said before the store opens (it created the data directory and
    // took and saved again its snapshot, only to stop here).
    return SocketFile.problem(at: path)
  }
}
