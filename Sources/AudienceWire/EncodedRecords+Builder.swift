public import AudienceCore

extension EncodedRecords {
  /// A batch's records encoded as they are added, for `IngestStream.send(encoded:)`: the CLI
  /// writes each CSV row's fields here straight from the file's bytes, without a `String` per
  /// field, on the thread that reads the file. The bytes are those `IngestBatchWriter` writes
  /// for the same `RawRecord`.
  public struct Builder: Sendable {
    private var bytes: [UInt8] = []
    private var records: [Range<Int>] = []

    public init() {}

    /// Records added since the last `take()`.
    public var count: Int { records.count }

    public mutating func append(_ record: RawRecord) { append(fields: record) }

    public mutating func append(_ record: borrowing RawRecordBytes) { append(fields: copy record) }

    private mutating func append<R: RecordFields>(fields r: R) {
      let sizes = RecordSizes(r)
      let start = bytes.count
      bytes.append(contentsOf: repeatElement(0, count: sizes.record))
      bytes.withUnsafeMutableBytes { all in
        var w = ProtoOut(UnsafeMutableRawBufferPointer(rebasing: all[start...]))
        w.record(r, sizes)
        precondition(w.at == sizes.record, "EncodedRecords.Builder: wrote \(w.at) bytes of \(sizes.record)")
      }
      records.append(start..<bytes.count)
    }

    /// The records added, leaving the builder empty, with room for as many again (a batch
    /// grows once, not by doubling from nothing).
    public mutating func take() -> EncodedRecords {
      let taken = EncodedRecords(bytes: bytes, records: records)
      let (byteCount, recordCount) = (bytes.count, records.count)
      self = Builder()
      bytes.reserveCapacity(byteCount)
      records.reserveCapacity(recordCount)
      return taken
    }
  }
}
