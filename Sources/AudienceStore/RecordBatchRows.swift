import AudienceCore

/// The records of one queued group as the JSON the `record_batches` table stores (see
/// `RecordBatches`), encoded by the thread that queues the group rather than by the store's
/// writer. What only the commit knows (the record's sequence number, and the time of one sent
/// without) is written by `append`; the rest of each record is encoded here.
struct RecordBatchRows: Sendable {
  private var bytes: [UInt8] = []
  /// Per record: where its time (`YYYY-MM-DDTHH:MM:SS`, just before the tail; `time == start`
  /// when it was sent without one) and its encoded tail start, and where the tail ends.
  private var tails: [(time: Int32, start: Int32, end: Int32)] = []

  /// - Parameters:
  ///   - records: the normalized records; one without `createdAt` gets its time when committed.
  ///     Each is moved out to a local and back (the array is left as it was): read in place, the
  ///     optimizer would copy it (a retain and a release of each string) for each call.
  ///   - contentIDs: each record's content id.
  init(_ records: inout [Record], contentIDs: [ContentID]) {
    var w = JSONWriter(capacity: records.count * 240)
    tails.reserveCapacity(records.count)
    records.forEachMovedOut { i, r in add(r, contentID: contentIDs[i], to: &w) }
    bytes = w.take()
  }

  /// `,"content id","cookie",email,phone,state,country,city,age,gender,income,education,[interests]]`
  private mutating func add(_ r: borrowing Record, contentID: ContentID, to w: inout JSONWriter) {
    let time = Int32(w.count)
    if let t = r.createdAt { w.time(t) }
    let start = Int32(w.count)
    w.bytes(0x2C, 0x22)  // ,"
    w.hex(contentID.high)
    w.hex(contentID.low)
    w.bytes(0x22, 0x2C)  // ",
    w.element(r.cookie)
    w.element(r.email)
    w.element(r.phoneNumber)
    w.element(r.location.state)
    w.element(r.location.country)
    w.element(r.location.city)
    if let age = r.demographics.age { w.decimal(Int64(age)) } else { w.null() }
    w.byte(0x2C)
    w.element(r.demographics.gender)
    w.element(r.demographics.income)
    w.element(r.demographics.education)
    w.stringList(r.interests)
    w.byte(0x5D)  // ]
    tails.append((time, start, Int32(w.count)))
  }

  /// Whether record `i` was sent with a time (one without gets the commit's).
  func hasTime(_ i: Int) -> Bool { tails[i].time < tails[i].start }

  /// Appends record `i` as a JSON array: `[seq,"created_at",` then the tail encoded at init.
  /// - Parameters:
  ///   - assignedTime: the bytes of the time the commit gave a record sent without one.
  func append(_ i: Int, seq: UInt64, assignedTime: [UInt8], to out: inout [UInt8]) {
    let tail = tails[i]
    out.append(0x5B)  // [
    JSONWriter.appendDecimal(Int64(bitPattern: seq), to: &out)
    out.append(0x2C)  // ,
    out.append(0x22)  // "
    bytes.withUnsafeBufferPointer { b in
      if tail.time < tail.start {
        out.append(contentsOf: UnsafeBufferPointer(rebasing: b[Int(tail.time)..<Int(tail.start)]))
      } else {
        out.append(contentsOf: assignedTime)
      }
      out.append(0x22)
      out.append(contentsOf: UnsafeBufferPointer(rebasing: b[Int(tail.start)..<Int(tail.end)]))
    }
  }
}
