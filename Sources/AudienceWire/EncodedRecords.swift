public import AudienceCore

/// An ingest batch's records as the server received them: a copy of the request's bytes and
/// where each record is in them. The connection only checks their structure (`request`); the
/// task that validates the batch reads each record's fields as spans of these bytes
/// (`forEach`) and makes each normalized string once, instead of protobuf-c unpacking every
/// field and a `String` being made of each on the connection's thread (docs/BENCHMARKS.md).
///
/// Read without protobuf-c, so held to protobuf-c's reading: `request` takes only frames that
/// protobuf-c would take, and reads them to the same values (tests compare the two on generated
/// and damaged frames); anything unusual it leaves to protobuf-c.
public struct EncodedRecords: Hashable, Sendable {
  let bytes: [UInt8]
  /// Where each record's bytes are in `bytes`.
  let records: [Range<Int>]

  public var count: Int { records.count }

  /// Bytes the records take in a batch, each with its field key and length.
  public var batchBytes: Int { records.reduce(0) { $0 + ProtoSizes.field($1.count) } }

  /// The `IngestBatch` or `Ingest` request a frame holds, read without protobuf-c; nil for any
  /// other request and for one that is not simple: a malformed frame (protobuf-c then says what
  /// is wrong), another body or a body twice, a record holding its location or demographics
  /// twice (protobuf-c merges them), a `last` flag longer than a byte. (protobuf-c took 20-37
  /// times an Ingest's frame for millions of tiny fields, unknown ones or empty interests: read
  /// here, unknown fields are skipped and a record's interests past
  /// `RawRecordBytes.interestsKept` counted, not kept.)
  /// - Parameters:
  ///   - frame: an encoded `audience.v1.Request`.
  static func request(_ frame: UnsafeRawBufferPointer) -> WireRequest? {
    guard let base = frame.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return nil }
    do throws(AudienceError) {
      var r = ProtoReader(base, 0..<frame.count)
      var id: UInt64 = 0
      var timeout: UInt32 = 0
      var body: Range<Int>?
      var bodyField: UInt64 = 0
      while !r.atEnd {
        let (field, wire) = try r.key()
        switch field {
        case 1:
          guard let value = try r.varint(ifWireType: wire) else { return nil }
          id = value
        case 2:
          guard let value = try r.varint(ifWireType: wire) else { return nil }
          timeout = UInt32(truncatingIfNeeded: value)
        case 11, 23:
          guard wire == ProtoReader.lengthDelimited, body == nil else { return nil }
          body = try r.lengthDelimited()
          bodyField = field
        case 10...22: return nil
        default: try r.skip(wire)
        }
      }
      guard let body else { return nil }
      if bodyField == 11 { return try ingest(base, body, frame, id: id, timeout: timeout) }
      var b = ProtoReader(base, body)
      var stream: UInt64 = 0
      var sequence: UInt64 = 0
      var last = false
      var records: [Range<Int>] = []
      var fields = RawRecordBytes()
      while !b.atEnd {
        let (field, wire) = try b.key()
        switch field {
        case 1:
          guard let value = try b.varint(ifWireType: wire) else { return nil }
          stream = value
        case 2:
          guard let value = try b.varint(ifWireType: wire) else { return nil }
          sequence = value
        case 3:
          guard wire == ProtoReader.lengthDelimited else { return nil }
          let record = try b.lengthDelimited()
          fields.reset()
          guard try read(ProtoReader(base, record), into: &fields) else { return nil }
          records.append(record)
        case 4:
          // A bool in one byte, as every encoder sends it (longer ones are protobuf-c's to read).
          guard wire == ProtoReader.varint, b.at < b.end, b.base[b.at] < 0x80 else { return nil }
          last = try b.varint() != 0
        default: try b.skip(wire)
        }
      }
      let batch = IngestBatch(
        stream: stream, sequence: sequence, records: .encoded(EncodedRecords(bytes: Array(frame), records: records)), last: last)
      return WireRequest(id: id, timeoutMs: timeout, body: .ingestBatch(batch))
    } catch {
      return nil
    }
  }

  /// An `IngestRequest` body (its records, field 1; nothing else is known), read as a batch's
  /// records are; nil when a record is not simple (`read`).
  private static func ingest(
    _ base: UnsafePointer<UInt8>, _ body: Range<Int>, _ frame: UnsafeRawBufferPointer, id: UInt64, timeout: UInt32
  ) throws(AudienceError) -> WireRequest? {
    var b = ProtoReader(base, body)
    var records: [Range<Int>] = []
    var fields = RawRecordBytes()
    while !b.atEnd {
      let (field, wire) = try b.key()
      guard field == 1 else {
        try b.skip(wire)
        continue
      }
      guard wire == ProtoReader.lengthDelimited else { return nil }
      let record = try b.lengthDelimited()
      fields.reset()
      guard try read(ProtoReader(base, record), into: &fields) else { return nil }
      records.append(record)
    }
    return WireRequest(id: id, timeoutMs: timeout, body: .ingestReceived(EncodedRecords(bytes: Array(frame), records: records)))
  }

  /// Calls `body` with each record's fields, in order, as spans of the received bytes.
  /// - Parameters:
  ///   - body: the record's position and fields (valid only during the call).
  ///   - unreadable: a record that could not be read (`request` checked each, so never).
  public func forEach(
    _ body: (Int, borrowing RawRecordBytes) -> Void, unreadable: (Int, AudienceError) -> Void
  ) {
    bytes.withUnsafeBufferPointer { all in
      guard let base = all.baseAddress else { return }
      var fields = RawRecordBytes()
      for (i, range) in records.enumerated() {
        fields.reset()
        do throws(AudienceError) {
          guard try Self.read(ProtoReader(base, range), into: &fields) else {
            throw AudienceError(.invalidArgument, "record \(i) is not one `request` takes")
          }
        } catch {
          unreadable(i, error)
          continue
        }
        body(i, fields)
      }
    }
  }

  /// Reads a record's fields as protobuf-c would (the last of a field sent twice, interests in
  /// order), or says it is not simple (false): a known field of another wire type (protobuf-c
  /// refuses such a message), or the location or demographics sent twice (protobuf-c merges them).
  /// The one walk of the schema: `request` checks each record with it, `forEach` reads them.
  private static func read(_ record: ProtoReader, into out: inout RawRecordBytes) throws(AudienceError) -> Bool {
    var r = record
    let base = record.base
    func span(_ range: Range<Int>) -> RawRecordBytes.Bytes {
      RawRecordBytes.Bytes(start: base + range.lowerBound, count: range.count)
    }
    var location = false, demographics = false
    while !r.atEnd {
      let (field, wire) = try r.key()
      switch field {
      case 1, 2, 3, 4, 7:
        guard wire == ProtoReader.lengthDelimited else { return false }
        let value = span(try r.lengthDelimited())
        switch field {
        case 1: out.cookie = value
        case 2: out.email = value
        case 3: out.phoneNumber = value
        case 4: out.createdAt = value
        default: out.addInterest(value)
        }
      case 5:
        guard wire == ProtoReader.lengthDelimited, !location else { return false }
        location = true
        var l = ProtoReader(base, try r.lengthDelimited())
        while !l.atEnd {
          let (f, w) = try l.key()
          guard (1...3).contains(f) else {
            try l.skip(w)
            continue
          }
          guard w == ProtoReader.lengthDelimited else { return false }
          let value = span(try l.lengthDelimited())
          switch f {
          case 1: out.state = value
          case 2: out.country = value
          default: out.city = value
          }
        }
      case 6:
        guard wire == ProtoReader.lengthDelimited, !demographics else { return false }
        demographics = true
        var d = ProtoReader(base, try r.lengthDelimited())
        while !d.atEnd {
          let (f, w) = try d.key()
          switch f {
          case 1:
            guard w == ProtoReader.varint else { return false }
            out.age = Int(Int32(truncatingIfNeeded: try d.varint()))
          case 2...4:
            guard w == ProtoReader.lengthDelimited else { return false }
            let value = span(try d.lengthDelimited())
            switch f {
            case 2: out.gender = value
            case 3: out.income = value
            default: out.education = value
            }
          default: try d.skip(w)
          }
        }
      default: try r.skip(wire)
      }
    }
    return true
  }

  /// The records as `RawRecord`s, a byte that is not UTF-8 replaced (for re-encoding and tests).
  var rawRecords: [RawRecord] {
    var result: [RawRecord] = []
    result.reserveCapacity(count)
    forEach { _, f in
      func s(_ b: RawRecordBytes.Bytes) -> String { String(decoding: b, as: UTF8.self) }
      result.append(
        RawRecord(
          cookie: s(f.cookie), email: s(f.email), phoneNumber: s(f.phoneNumber), createdAt: s(f.createdAt),
          state: s(f.state), country: s(f.country), city: s(f.city), age: f.age, gender: s(f.gender),
          income: s(f.income), education: s(f.education), interests: f.interests.map(s)))
    } unreadable: { _, _ in result.append(RawRecord()) }
    return result
  }
}
