import AudienceCore
internal import CAudienceProto
public import NIOCore

extension WireCodec {
  /// Appends a response as one frame (length prefix included).
  /// - Parameters:
  ///   - response: the response.
  ///   - buffer: where to write.
  public static func encode(_ response: WireResponse, into buffer: inout ByteBuffer) {
    let arena = Arena()
    var m = Audience__V1__Response()
    audience__v1__response__init(&m)
    m.id = response.id
    if response.status.code != .ok {
      let s = arena.allocate(Audience__V1__Status.self)
      audience__v1__status__init(s)
      s.pointee.code = Audience__V1__StatusCode(rawValue: UInt32(response.status.code.rawValue))
      s.pointee.message = arena.string(response.status.message)
      m.status = s
    }
    switch response.body {
    case nil: break
    case .hello(let info):
      let h = arena.allocate(Audience__V1__HelloResponse.self)
      audience__v1__hello_response__init(h)
      h.pointee.protocol_version = info.protocolVersion
      h.pointee.server_version = arena.string(info.serverVersion)
      h.pointee.max_frame_bytes = UInt32(clamping: info.maxFrameBytes)
      h.pointee.max_records_per_batch = UInt32(clamping: info.maxRecordsPerBatch)
      h.pointee.max_in_flight = UInt32(clamping: info.maxInFlight)
      m.body_case = AUDIENCE__V1__RESPONSE__BODY_HELLO
      m.hello = h
    case .ingest(let summary):
      m.body_case = AUDIENCE__V1__RESPONSE__BODY_INGEST
      m.ingest = ProtoIngest.encode(summary, arena)
    case .getUser(let user):
      let g = arena.allocate(Audience__V1__GetUserResponse.self)
      audience__v1__get_user_response__init(g)
      g.pointee.data = ProtoRecord.encode(user.data, arena)
      g.pointee.profile = ProtoProfile.encode(user.summary, arena)
      m.body_case = AUDIENCE__V1__RESPONSE__BODY_GET_USER
      m.get_user = g
    case .queryCohort(let page):
      let q = arena.allocate(Audience__V1__QueryCohortResponse.self)
      audience__v1__query_cohort_response__init(q)
      q.pointee.total = UInt64(page.total)
      q.pointee.n_users = page.users.count
      q.pointee.users = arena.messages(page.users) { ProtoRecord.encode($0, arena) }
      q.pointee.next_cursor = arena.string(page.nextCursor)
      m.body_case = AUDIENCE__V1__RESPONSE__BODY_QUERY_COHORT
      m.query_cohort = q
    case .analyze(let report):
      m.body_case = AUDIENCE__V1__RESPONSE__BODY_ANALYZE
      m.analyze = ProtoAnalyze.encode(report, arena)
    case .watch(let event):
      m.body_case = AUDIENCE__V1__RESPONSE__BODY_WATCH
      m.watch = ProtoWatch.encode(event, arena)
    case .cancel(let found):
      let c = arena.allocate(Audience__V1__CancelResponse.self)
      audience__v1__cancel_response__init(c)
      c.pointee.found = found ? 1 : 0
      m.body_case = AUDIENCE__V1__RESPONSE__BODY_CANCEL
      m.cancel = c
    case .forget(let summary):
      let f = arena.allocate(Audience__V1__ForgetResponse.self)
      audience__v1__forget_response__init(f)
      f.pointee.profile = ProtoProfile.encode(summary, arena)
      m.body_case = AUDIENCE__V1__RESPONSE__BODY_FORGET
      m.forget = f
    case .ingestStream(let window):
      let x = arena.allocate(Audience__V1__IngestStreamResponse.self)
      audience__v1__ingest_stream_response__init(x)
      x.pointee.window = UInt32(clamping: window)
      m.body_case = AUDIENCE__V1__RESPONSE__BODY_INGEST_STREAM
      m.ingest_stream = x
    case .split(let profiles):
      let x = arena.allocate(Audience__V1__SplitResponse.self)
      audience__v1__split_response__init(x)
      x.pointee.n_profiles = profiles.count
      x.pointee.profiles = arena.messages(profiles) { ProtoProfile.encode($0, arena) }
      m.body_case = AUDIENCE__V1__RESPONSE__BODY_SPLIT
      m.split = x
    case .export(let export):
      let x = arena.allocate(Audience__V1__ExportResponse.self)
      audience__v1__export_response__init(x)
      x.pointee.data = ProtoRecord.encode(export.data, arena)
      x.pointee.profile = ProtoProfile.encode(export.summary, arena)
      x.pointee.n_records = export.records.count
      x.pointee.records = arena.messages(export.records) { ProtoRecord.encode($0, arena) }
      m.body_case = AUDIENCE__V1__RESPONSE__BODY_EXPORT
      m.export = x
    case .history(let history):
      let h = arena.allocate(Audience__V1__HistoryResponse.self)
      audience__v1__history_response__init(h)
      h.pointee.profile = ProtoProfile.encode(history.summary, arena)
      h.pointee.n_entries = history.entries.count
      h.pointee.entries = arena.messages(history.entries) { entry in
        let e = arena.allocate(Audience__V1__HistoryEntry.self)
        audience__v1__history_entry__init(e)
        e.pointee.record = ProtoRecord.encode(entry.record, arena)
        e.pointee.change = arena.string(entry.change)
        return e
      }
      m.body_case = AUDIENCE__V1__RESPONSE__BODY_HISTORY
      m.history = h
    case .health(let info):
      let h = arena.allocate(Audience__V1__HealthResponse.self)
      audience__v1__health_response__init(h)
      h.pointee.status = arena.string(info.status)
      h.pointee.server_version = arena.string(info.serverVersion)
      h.pointee.store = arena.string(info.store)
      h.pointee.profiles = UInt64(info.stats.profiles)
      h.pointee.records = UInt64(info.stats.records)
      h.pointee.repeated_emails = UInt64(info.stats.repeatedEmails)
      h.pointee.uptime_seconds = info.uptimeSeconds
      h.pointee.connections = UInt32(clamping: info.connections)
      m.body_case = AUDIENCE__V1__RESPONSE__BODY_HEALTH
      m.health = h
    }
    let refused: Int? = withExtendedLifetime(arena) {
      let size = audience__v1__response__get_packed_size(&m)
      // A frame's length is 32 bits; a response past `maxResponseBytes` (an export of a profile
      // of hundreds of thousands of large records) is refused, not written (past 4 GiB the
      // length's conversion would stop the process).
      guard size <= Self.maxResponseBytes else { return size }
      buffer.writeInteger(UInt32(size), endianness: .big)
      buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { out in
        audience__v1__response__pack(&m, out.baseAddress!.assumingMemoryBound(to: UInt8.self))
      }
      return nil
    }
    if let refused {
      let status = WireStatus(
        .resourceExhausted, "the response would be \(refused) bytes, more than a frame may hold (\(Self.maxResponseBytes))")
      encode(WireResponse(id: response.id, status: status), into: &buffer)
    }
  }

  /// The largest response frame written (1 GiB).
  public static let maxResponseBytes = 1 << 30

  /// A response's id when it is the payload's first field (as protobuf-c and the packed-view
  /// encoder write it); nil otherwise (decode the response to learn it).
  /// - Parameters:
  ///   - payload: the frame's bytes (without the length prefix).
  public static func leadingResponseID(_ payload: ByteBuffer) -> UInt64? {
    payload.withUnsafeReadableBytes { raw -> UInt64? in
      let b = raw.bindMemory(to: UInt8.self)
      guard let base = b.baseAddress, b.first == 0x08 else { return nil }
      var r = ProtoReader(base, 1..<b.count)
      return try? r.varint()
    }
  }

  /// Decodes a response payload (without the length prefix).
  /// - Parameters:
  ///   - payload: the frame's bytes.
  public static func decodeResponse(_ payload: ByteBuffer) throws -> WireResponse {
    try payload.withUnsafeReadableBytes { bytes throws -> WireResponse in
      try UnpackArena.with { allocator throws -> WireResponse in
        guard
          let msg = audience__v1__response__unpack(allocator, bytes.count, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self))
        else {
          throw AudienceError(.internal, "server sent \(bytes.count) bytes that are not an audience.v1.Response")
        }
        return try decode(msg.pointee)
      }
    }
  }

  /// Turns an unpacked response into Swift values (strings checked to be UTF-8).
  static func decode(_ m: Audience__V1__Response) throws -> WireResponse {
    var status = WireStatus.ok
    if let s = m.status?.pointee {
      status = WireStatus(StatusCode(rawValue: Int(s.code.rawValue)), try CStrings.read(s.message, "status.message"))
    }
    let body: WireResponse.Body?
    switch m.body_case {
    case AUDIENCE__V1__RESPONSE__BODY_HELLO:
      let h = m.hello.pointee
      body = .hello(
        HelloInfo(
          protocolVersion: h.protocol_version, serverVersion: try CStrings.read(h.server_version, "server_version"),
          maxFrameBytes: Int(h.max_frame_bytes), maxRecordsPerBatch: Int(h.max_records_per_batch),
          maxInFlight: Int(h.max_in_flight)))
    case AUDIENCE__V1__RESPONSE__BODY_INGEST:
      body = .ingest(try ProtoIngest.decode(m.ingest))
    case AUDIENCE__V1__RESPONSE__BODY_GET_USER:
      let g = m.get_user.pointee
      guard let data = g.data, let profile = g.profile else {
        throw AudienceError(.internal, "GetUser response without data or profile")
      }
      body = .getUser(UserView(data: try ProtoRecord.decodeView(data), summary: try ProtoProfile.decode(profile)))
    case AUDIENCE__V1__RESPONSE__BODY_QUERY_COHORT:
      let q = m.query_cohort.pointee
      var users: [Record] = []
      for i in 0..<q.n_users { users.append(try ProtoRecord.decodeView(q.users[i]!)) }
      let cursor = try CStrings.read(q.next_cursor, "next_cursor")
      body = .queryCohort(CohortPage(total: Int(clamping: q.total), users: users, nextCursor: cursor.isEmpty ? nil : cursor))
    case AUDIENCE__V1__RESPONSE__BODY_HEALTH:
      let h = m.health.pointee
      body = .health(
        HealthInfo(
          status: try CStrings.read(h.status, "status"), serverVersion: try CStrings.read(h.server_version, "server_version"),
          store: try CStrings.read(h.store, "store"),
          stats: StoreStats(profiles: Int(clamping: h.profiles), records: Int(clamping: h.records), repeatedEmails: Int(clamping: h.repeated_emails)),
          uptimeSeconds: h.uptime_seconds, connections: Int(h.connections)))
    case AUDIENCE__V1__RESPONSE__BODY_ANALYZE:
      body = .analyze(try ProtoAnalyze.decode(m.analyze))
    case AUDIENCE__V1__RESPONSE__BODY_WATCH:
      body = .watch(try ProtoWatch.decode(m.watch.pointee))
    case AUDIENCE__V1__RESPONSE__BODY_CANCEL:
      body = .cancel(found: m.cancel.pointee.found != 0)
    case AUDIENCE__V1__RESPONSE__BODY_FORGET:
      guard let profile = m.forget.pointee.profile else { throw AudienceError(.internal, "Forget response without the profile") }
      body = .forget(try ProtoProfile.decode(profile))
    case AUDIENCE__V1__RESPONSE__BODY_INGEST_STREAM:
      body = .ingestStream(window: Int(m.ingest_stream.pointee.window))
    case AUDIENCE__V1__RESPONSE__BODY_SPLIT:
      let x = m.split.pointee
      var profiles: [ProfileSummary] = []
      for i in 0..<x.n_profiles { profiles.append(try ProtoProfile.decode(x.profiles[i]!)) }
      body = .split(profiles)
    case AUDIENCE__V1__RESPONSE__BODY_HISTORY:
      let h = m.history.pointee
      guard let profile = h.profile else { throw AudienceError(.internal, "History response without the profile") }
      var entries: [HistoryEntry] = []
      for i in 0..<h.n_entries {
        let e = h.entries[i]!.pointee
        guard let record = e.record else { throw AudienceError(.internal, "History entry without its record") }
        entries.append(HistoryEntry(record: try ProtoRecord.decodeView(record), change: try CStrings.read(e.change, "change")))
      }
      body = .history(PersonHistory(summary: try ProtoProfile.decode(profile), entries: entries))
    case AUDIENCE__V1__RESPONSE__BODY_EXPORT:
      let x = m.export.pointee
      guard let data = x.data, let profile = x.profile else {
        throw AudienceError(.internal, "Export response without data or profile")
      }
      var records: [Record] = []
      for i in 0..<x.n_records { records.append(try ProtoRecord.decodeView(x.records[i]!)) }
      body = .export(PersonExport(data: try ProtoRecord.decodeView(data), summary: try ProtoProfile.decode(profile), records: records))
    default:
      body = nil
    }
    return WireResponse(id: m.id, status: status, body: body)
  }
}
