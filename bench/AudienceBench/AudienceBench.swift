import ArgumentParser
import AudienceClient
import AudienceCore
import AudienceWire
import Foundation
import NIOCore

/// The Swift half of `make bench-query` (bench/query.py drives it): measures a running
/// audienced over a plain blocking Unix-socket client and prints one JSON object per figure.
@main
struct AudienceBench: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "audience-bench",
    abstract: "Measure a running audienced: segment queries, GetUser throughput and latency, index memory, ingest.",
    subcommands: [Queries.self, Throughput.self, Latency.self, IndexMemory.self, ApplyBench.self, WireBench.self, CSVBench.self, IngestStreamBench.self, ReaderBench.self, NIOEcho.self])
}

/// The four segments.
enum Segments {
  static let all: [(String, Filter)] = [
    ("Q1", .all([.age(min: 20, max: 30), .interests(any: ["Gaming"]), .strings(.country, ["USA"])])),
    ("Q2", .interests(any: ["Crypto"])),
    ("Q3", .all([.strings(.gender, ["Female"]), .income(min: 50_000, max: 100_000)])),
    ("Q4", .interests(any: ["AI", "Crypto"])),
  ]
}

struct Queries: ParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Count Q1-Q4 (count_only) and fetch every user of Q1.")
  @Option(help: "audienced's socket.") var socket: String
  @Option(help: "Timed runs per query.") var runs = 200
  @Option(help: "Timed fetches of each kind.") var fetches = 30
  @Option(help: "Lazy fetches per decoded one (for profiling the lazy reader).") var lazyRepeats = 1

  func run() throws {
    let s = try Wire.connect(socket)
    for (name, filter) in Segments.all {
      let body = WireRequest.Body.queryCohort(CohortQuery(filter: filter, countOnly: true))
      for _ in 0..<5 { _ = try Wire.call(s, body) }
      var samples: [Double] = []
      var total = 0
      for _ in 0..<runs {
        let t = now()
        guard case .queryCohort(let page) = try Wire.call(s, body) else { throw BenchError("not a page") }
        samples.append(Double(now() - t) / 1e3)
        total = page.total
      }
      emit(.object([("figure", .string("count")), ("query", .string(name)), ("total", .int(Int64(total))), ("us", Stats(samples).json)]))
    }
    // Every user of Q1, and the first 20,000 of Q2 (the "~20k users"), page by page
    // (10,000 per page, the largest page). The first fetch after a start packs each profile's
    // view; later ones copy the kept packed views. Each fetch is timed three ways, interleaved:
    // decoded into Swift `Record`s page after page (`queryCohort`); read lazily with every
    // user's cookie read, the next page asked for as each arrives (`cohortPages`); and page
    // after page received whole but not decoded at all (the cursor read from the raw bytes:
    // what the server and the socket take).
    for (name, filter, most) in [("Q1", Segments.all[0].1, Int.max), ("Q2", Segments.all[1].1, 20_000)] {
      var first = 0.0
      var users = 0
      var decoded: [Double] = [], lazy: [Double] = [], raw: [Double] = []
      for run in 0..<(fetches + 2) {
        var t = now()
        users = try fetch(s, filter, most: most, decode: true)
        if run == 0 { first = Double(now() - t) / 1e6 }
        if run < 2 { continue }
        decoded.append(Double(now() - t) / 1e6)
        for _ in 0..<lazyRepeats {
          t = now()
          guard try fetchLazily(s, filter, most: most) == users else { throw BenchError("lazy fetch got another count") }
          lazy.append(Double(now() - t) / 1e6)
        }
        t = now()
        _ = try fetch(s, filter, most: most, decode: false)
        raw.append(Double(now() - t) / 1e6)
      }
      emit(.object([
        ("figure", .string("fetch")), ("query", .string(name)), ("users", .int(Int64(users))), ("ms", Stats(decoded).json),
        ("lazy_ms", Stats(lazy).json), ("first_ms", .double(first)), ("undecoded_ms", Stats(raw).json),
      ]))
    }
  }

  /// A page of `filter` after `cursor`, as many users as are still wanted (10,000 at most).
  private func query(_ filter: Filter, after cursor: String?, have n: Int, most: Int) -> CohortQuery {
    CohortQuery(filter: filter, limit: min(CohortQuery.maxLimit, most - n), cursor: cursor)
  }

  /// Fetches a segment's users page after page, at most `most` of them, decoded into `Record`s
  /// or only received (the cursor read from the raw bytes); returns how many came.
  private func fetch(_ s: BlockingSocket, _ filter: Filter, most: Int, decode: Bool) throws -> Int {
    var cursor: String? = nil
    var n = 0
    repeat {
      let q = query(filter, after: cursor, have: n, most: most)
      if decode {
        guard case .queryCohort(let page) = try Wire.call(s, .queryCohort(q)) else { throw BenchError("not a page") }
        n += page.users.count
        cursor = page.nextCursor
      } else {
        try s.writeAll(Wire.frame(WireRequest(id: 1, body: .queryCohort(q))))
        cursor = try Wire.nextCursor(s.readFrameBuffer().readableBytesView)
        n += q.limit  // a page with a cursor after it is full; the last page ends the loop anyway
      }
    } while cursor != nil && n < most
    return n
  }

  /// As AudienceClient.cohortPages: the next page is asked for as soon as a page arrives, then
  /// the page is read lazily (every user's cookie) while the server prepares the next.
  private func fetchLazily(_ s: BlockingSocket, _ filter: Filter, most: Int) throws -> Int {
    var n = 0
    var q = query(filter, after: nil, have: 0, most: most)
    try s.writeAll(Wire.frame(WireRequest(id: 1, body: .queryCohort(q))))
    while true {
      let payload = try s.readFrameBuffer()
      let cursor = LazyCohortPage.nextCursor(in: payload)
      let more = cursor != nil && n + q.limit < most  // a page with a cursor after it is full
      if more {
        q = query(filter, after: cursor, have: n + q.limit, most: most)
        try s.writeAll(Wire.frame(WireRequest(id: 1, body: .queryCohort(q))))
      }
      guard let page = try LazyCohortPage(payload) else { throw BenchError("not a page: \(try WireCodec.decodeResponse(payload))") }
      var bytes = 0
      for user in page.users { bytes &+= user.cookie.utf8.count }
      guard bytes > 0 || page.users.isEmpty else { throw BenchError("no cookies") }
      n += page.users.count
      if !more { return n }
    }
  }
}

struct Throughput: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "GetUser requests per second, pipelined on one connection (a writer thread keeps the socket full).")
  @Option(help: "audienced's socket.") var socket: String
  @Option(help: "Cookies c0..c(N-1) exist.") var profiles: Int
  @Option(help: "Requests to send.") var requests = 1_000_000
  @Option(help: "Timed repetitions.") var rounds = 3

  func run() throws {
    // 4096 distinct requests, encoded once, sent round and round.
    let batch = Wire.getUserFrames(4096, profiles: profiles)
    let chunk = batch.joined().map { $0 }
    let perChunk = batch.count
    for _ in 0..<rounds {
      let s = try Wire.connect(socket)
      let chunks = max(1, requests / perChunk)
      let fd = s.fd
      let writer = Thread {
        for _ in 0..<chunks { try? BlockingSocket.writeAll(fd, chunk) }
      }
      let t = now()
      writer.start()
      var checked = 0
      for k in 0..<chunks {
        let last = try s.skipFrames(perChunk)
        if k % 16 == 0 {
          let r = try Wire.decode(last)
          guard r.status.code == .ok, case .getUser = r.body else { throw BenchError("GetUser failed: \(r.status)") }
          checked += 1
        }
      }
      let seconds = Double(now() - t) / 1e9
      let n = chunks * perChunk
      emit(.object([
        ("figure", .string("getuser_pipelined")), ("requests", .int(Int64(n))), ("seconds", .double(seconds)),
        ("per_second", .double(Double(n) / seconds)), ("checked", .int(Int64(checked))),
      ]))
    }
  }
}

struct Latency: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Sequential GetUser round trips, interleaved with the same bytes sent to a C echo server (and a SwiftNIO one).")
  @Option(help: "audienced's socket.") var socket: String
  @Option(help: "The echo server's socket (bench/echo.c).") var echo: String
  @Option(help: "A SwiftNIO echo server's socket (`audience-bench nio-echo`), measured too when given.") var nioEcho: String?
  @Option(help: "Cookies c0..c(N-1) exist.") var profiles: Int
  @Option(help: "Round trips per block.") var block = 2_000
  @Option(help: "Blocks per server, alternating.") var blocks = 10

  func run() throws {
    let frames = Wire.getUserFrames(block, profiles: profiles)
    var servers: [(figure: String, socket: BlockingSocket, samples: [Double])] = [
      ("getuser_latency", try Wire.connect(socket), []), ("echo_latency", try BlockingSocket(path: echo), []),
    ]
    if let nioEcho { servers.append(("nio_echo_latency", try BlockingSocket(path: nioEcho), [])) }
    for round in 0..<(blocks + 1) {
      for k in servers.indices {
        for f in frames {
          let t = now()
          try servers[k].socket.writeAll(f)
          _ = try servers[k].socket.readFrame()
          if round > 0 { servers[k].samples.append(Double(now() - t) / 1e3) }
        }
      }
    }
    for s in servers { emit(.object([("figure", .string(s.figure)), ("us", Stats(s.samples).json)])) }
  }
}

struct IndexMemory: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "index-memory", abstract: "Build the identity graph in-process from a JSON-lines file; report the index's bytes per profile.")
  @Option(help: "JSON lines, one record per line.") var file: String

  func run() throws {
    let text = try String(contentsOfFile: file, encoding: .utf8)
    let normalizer = RecordNormalizer()
    var graph = IdentityGraph()
    var seq: UInt64 = 0
    let t = now()
    for line in text.split(separator: "\n") {
      let raw = try RecordJSON.record(from: JSONValue(parsing: String(line)))
      var record = try normalizer.normalize(raw)
      if record.createdAt == nil { record.createdAt = Timestamp(seconds: 0) }
      seq += 1
      graph.apply(StoredRecord(seq: seq, contentID: ContentID(of: record), record: record))
    }
    let seconds = Double(now() - t) / 1e9
    emit(.object([
      ("figure", .string("index_memory")), ("profiles", .int(Int64(graph.profileCount))),
      ("index_bytes", .int(Int64(graph.indexMemoryBytes))),
      ("bytes_per_profile", .double(Double(graph.indexMemoryBytes) / Double(max(1, graph.profileCount)))),
      ("build_seconds", .double(seconds)),
    ]))
  }
}
