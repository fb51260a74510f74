import AudienceCore
internal import CAudienceProto
public import NIOCore

/// Encodes and decodes envelopes with protobuf-c. Decoding copies everything into Swift
/// values and frees the C message before returning; encoding builds C messages in an
/// `Arena` and packs them straight into the output buffer.
public enum WireCodec {
  /// Copies a repeated Record field; errors name the record's position.
  private static func records(
    _ n: Int, _ items: UnsafeMutablePointer<UnsafeMutablePointer<Audience__V1__Record>?>?
  ) throws(AudienceError) -> [RawRecord] {
    var records: [RawRecord] = []
    records.reserveCapacity(n)
    for i in 0..<n {
      do throws(AudienceError) {
        records.append(try ProtoRecord.decode(items![i]!))
      } catch {
        throw error.located("record \(i)")
      }
    }
    return records
  }

  /// Decodes a request payload (without the length prefix).
  ///
  /// Errors are `invalidArgument` naming the field; an unknown method is `unimplemented`
  /// (thrown as `WireStatus`). An ingest batch's records are not decoded here: its structure is
  /// checked and its records are read where they are validated (`EncodedRecords`).
  /// - Parameters:
  ///   - payload: the frame's bytes.
  public static func decodeRequest(_ payload: ByteBuffer) throws -> WireRequest {
    try decodeRequest(payload) { _, unpack in try unpack() }
  }

  /// `decodeRequest`, with `unpacking` around protobuf-c's unpacking of the frame (given its
  /// size): protobuf-c takes 20-37 times a frame of millions of tiny fields while it unpacks it,
  /// and the server makes room for that first. Not called for a plain ingest, read in place.
  public static func decodeRequest(
    _ payload: ByteBuffer, unpacking: (Int, () throws -> WireRequest) throws -> WireRequest
  ) throws -> WireRequest {
    try payload.withUnsafeReadableBytes { bytes throws -> WireRequest in
      if let batch = EncodedRecords.request(bytes) { return batch }
      return try unpacking(bytes.count) { try unpackRequest(bytes) }
    }
  }

  /// Decodes a request with protobuf-c (every request but a plain ingest batch).
  static func unpackRequest(_ bytes: UnsafeRawBufferPointer) throws -> WireRequest {
    try UnpackArena.with { allocator throws -> WireRequest in
      try NestingGuard.check(bytes, maxDepth: ProtoFilter.maxDepth)
      guard
        let msg = audience__v1__request__unpack(allocator, bytes.count, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self))
      else {
        throw AudienceError(.invalidArgument, "frame of \(bytes.count) bytes is not a valid audience.v1.Request protobuf")
      }
      let m = msg.pointee
      let body: WireRequest.Body
      switch m.body_case {
      case AUDIENCE__V1__REQUEST__BODY_HELLO:
        body = .hello(
          protocolVersion: m.hello.pointee.protocol_version,
          clientName: try CStrings.read(m.hello.pointee.client_name, "hello.client_name"))
      case AUDIENCE__V1__REQUEST__BODY_INGEST:
        body = .ingest(try records(m.ingest.pointee.n_records, m.ingest.pointee.records))
      case AUDIENCE__V1__REQUEST__BODY_INGEST_STREAM:
        body = .ingestStream(window: m.ingest_stream.pointee.window)
      case AUDIENCE__V1__REQUEST__BODY_INGEST_BATCH:
        let b = m.ingest_batch.pointee
        body = .ingestBatch(
          IngestBatch(stream: b.stream, sequence: b.sequence, records: try records(b.n_records, b.records), last: b.last != 0))
      case AUDIENCE__V1__REQUEST__BODY_GET_USER:
        body = .getUser(cookie: try CStrings.read(m.get_user.pointee.cookie, "cookie"))
      case AUDIENCE__V1__REQUEST__BODY_QUERY_COHORT:
        let q = m.query_cohort.pointee
        let cookie = try CStrings.read(q.cookie, "cookie")
        let cursor = try CStrings.read(q.cursor, "cursor")
        body = .queryCohort(
          CohortQuery(
            filter: try ProtoFilter.decode(q.filter, where: q.where),
            cookie: cookie.isEmpty ? nil : cookie,
            limit: q.limit == 0 ? CohortQuery.defaultLimit : Int(q.limit),
            cursor: cursor.isEmpty ? nil : cursor, countOnly: q.count_only != 0))
      case AUDIENCE__V1__REQUEST__BODY_HEALTH:
        body = .health
      case AUDIENCE__V1__REQUEST__BODY_ANALYZE:
        body = .analyze(try ProtoAnalyze.decode(m.analyze))
      case AUDIENCE__V1__REQUEST__BODY_WATCH:
        body = .watch(try ProtoFilter.decode(m.watch.pointee.filter, where: m.watch.pointee.where))
      case AUDIENCE__V1__REQUEST__BODY_CANCEL:
        body = .cancel(requestID: m.cancel.pointee.request_id)
      case AUDIENCE__V1__REQUEST__BODY_FORGET:
        body = .forget(try ProtoPerson.decode(m.forget.pointee.person))
      case AUDIENCE__V1__REQUEST__BODY_EXPORT:
        body = .export(try ProtoPerson.decode(m.export.pointee.person))
      case AUDIENCE__V1__REQUEST__BODY_HISTORY:
        body = .history(try ProtoPerson.decode(m.history.pointee.person))
      case AUDIENCE__V1__REQUEST__BODY_SPLIT:
        let cookie = try CStrings.read(m.split.pointee.cookie, "cookie").trimmingWhitespace()
        guard !cookie.isEmpty else { throw AudienceError.invalidField("cookie", "is required") }
        body = .split(cookie: cookie)
      default:
        // protobuf-c leaves a body field it does not know unset (0), like an empty request.
        throw WireStatus(.unimplemented, "request \(m.id) names no method this server knows (none, or one of a newer protocol)")
      }
      return WireRequest(id: m.id, timeoutMs: m.timeout_ms, body: body)
    }
  }

  /// The id of a request that failed to decode, when the bytes hold one (for the error reply).
  /// - Parameters:
  ///   - payload: the frame's bytes.
  public static func peekRequestID(_ payload: ByteBuffer) -> UInt64 {
    var b = payload
    guard b.readInteger(as: UInt8.self) == 0x08 else { return 0 }  // field 1, varint
    var v: UInt64 = 0, shift: UInt64 = 0
    while let byte = b.readInteger(as: UInt8.self), shift < 64 {
      v |= UInt64(byte & 0x7F) << shift
      if byte & 0x80 == 0 { return v }
      shift += 7
    }
    return 0
  }

  /// Appends a request as one frame (length prefix included).
  /// - Parameters:
  ///   - request: the request.
  ///   - buffer: where to write.
  public static func encode(_ request: WireRequest, into buffer: inout ByteBuffer) {
    if case .ingestBatch(let batch) = request.body {
      IngestBatchWriter.write(id: request.id, timeoutMs: request.timeoutMs, batch, into: &buffer)
    } else {
      pack(request, into: &buffer)
    }
  }

  /// `encode` through protobuf-c's structs and `audience__v1__request__pack`, for every request
  /// (the ingest batches' own writer is tested against it).
  static func pack(_ request: WireRequest, into buffer: inout ByteBuffer) {
    let arena = Arena()
    var m = Audience__V1__Request()
    audience__v1__request__init(&m)
    m.id = request.id
    m.timeout_ms = request.timeoutMs
    switch request.body {
    case .hello(let version, let name):
      let h = arena.allocate(Audience__V1__HelloRequest.self)
      audience__v1__hello_request__init(h)
      h.pointee.protocol_version = version
      h.pointee.client_name = arena.string(name)
      m.body_case = AUDIENCE__V1__REQUEST__BODY_HELLO
      m.hello = h
    case .ingest, .ingestReceived:
      let records: [RawRecord]
      switch request.body {
      case .ingest(let decoded): records = decoded
      case .ingestReceived(let received): records = received.rawRecords
      default: records = []
      }
      let r = arena.allocate(Audience__V1__IngestRequest.self)
      audience__v1__ingest_request__init(r)
      r.pointee.n_records = records.count
      r.pointee.records = arena.messages(records) { ProtoRecord.encode($0, arena) }
      m.body_case = AUDIENCE__V1__REQUEST__BODY_INGEST
      m.ingest = r
    case .getUser(let cookie):
      let g = arena.allocate(Audience__V1__GetUserRequest.self)
      audience__v1__get_user_request__init(g)
      g.pointee.cookie = arena.string(cookie)
      m.body_case = AUDIENCE__V1__REQUEST__BODY_GET_USER
      m.get_user = g
    case .queryCohort(let query):
      let q = arena.allocate(Audience__V1__QueryCohortRequest.self)
      audience__v1__query_cohort_request__init(q)
      q.pointee.filter = query.filter.map { ProtoFilter.encode($0, arena) }
      q.pointee.cookie = arena.string(query.cookie)
      q.pointee.limit = UInt32(clamping: query.limit)
      q.pointee.cursor = arena.string(query.cursor)
      q.pointee.count_only = query.countOnly ? 1 : 0
      m.body_case = AUDIENCE__V1__REQUEST__BODY_QUERY_COHORT
      m.query_cohort = q
    case .analyze(let query):
      m.body_case = AUDIENCE__V1__REQUEST__BODY_ANALYZE
      m.analyze = ProtoAnalyze.encode(query, arena)
    case .watch(let filter):
      let w = arena.allocate(Audience__V1__WatchRequest.self)
      audience__v1__watch_request__init(w)
      w.pointee.filter = filter.map { ProtoFilter.encode($0, arena) }
      m.body_case = AUDIENCE__V1__REQUEST__BODY_WATCH
      m.watch = w
    case .cancel(let requestID):
      let c = arena.allocate(Audience__V1__CancelRequest.self)
      audience__v1__cancel_request__init(c)
      c.pointee.request_id = requestID
      m.body_case = AUDIENCE__V1__REQUEST__BODY_CANCEL
      m.cancel = c
    case .forget(let person):
      let f = arena.allocate(Audience__V1__ForgetRequest.self)
      audience__v1__forget_request__init(f)
      f.pointee.person = ProtoPerson.encode(person, arena)
      m.body_case = AUDIENCE__V1__REQUEST__BODY_FORGET
      m.forget = f
    case .export(let person):
      let x = arena.allocate(Audience__V1__ExportRequest.self)
      audience__v1__export_request__init(x)
      x.pointee.person = ProtoPerson.encode(person, arena)
      m.body_case = AUDIENCE__V1__REQUEST__BODY_EXPORT
      m.export = x
    case .history(let person):
      let h = arena.allocate(Audience__V1__HistoryRequest.self)
      audience__v1__history_request__init(h)
      h.pointee.person = ProtoPerson.encode(person, arena)
      m.body_case = AUDIENCE__V1__REQUEST__BODY_HISTORY
      m.history = h
    case .ingestStream(let window):
      let x = arena.allocate(Audience__V1__IngestStreamRequest.self)
      audience__v1__ingest_stream_request__init(x)
      x.pointee.window = window
      m.body_case = AUDIENCE__V1__REQUEST__BODY_INGEST_STREAM
      m.ingest_stream = x
    case .ingestBatch(let batch):
      let b = arena.allocate(Audience__V1__IngestBatch.self)
      audience__v1__ingest_batch__init(b)
      b.pointee.stream = batch.stream
      b.pointee.sequence = batch.sequence
      b.pointee.last = batch.last ? 1 : 0
      let records = batch.records.rawRecords
      b.pointee.n_records = records.count
      b.pointee.records = arena.messages(records) { ProtoRecord.encode($0, arena) }
      m.body_case = AUDIENCE__V1__REQUEST__BODY_INGEST_BATCH
      m.ingest_batch = b
    case .split(let cookie):
      let x = arena.allocate(Audience__V1__SplitRequest.self)
      audience__v1__split_request__init(x)
      x.pointee.cookie = arena.string(cookie)
      m.body_case = AUDIENCE__V1__REQUEST__BODY_SPLIT
      m.split = x
    case .health:
      let h = arena.allocate(Audience__V1__HealthRequest.self)
      audience__v1__health_request__init(h)
      m.body_case = AUDIENCE__V1__REQUEST__BODY_HEALTH
      m.health = h
    }
    withExtendedLifetime(arena) {
      let size = audience__v1__request__get_packed_size(&m)
      buffer.writeInteger(UInt32(size), endianness: .big)
      buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { out in
        audience__v1__request__pack(&m, out.baseAddress!.assumingMemoryBound(to: UInt8.self))
      }
    }
  }
}
