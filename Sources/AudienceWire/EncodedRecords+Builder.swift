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

    private static let zeros = [UInt8](repeating: 0, count: 4096)

    /// Records added since the last `take()`.
    public var count: Int { records.count }

    /// Bytes the records take in a batch, each with its field key and length (a request's frame
    /// holds them and a few bytes more: the server refuses a frame past its `maxFrameBytes`).
    public private(set) var batchBytes = 0

    /// Takes the last record added out, into a builder of its own.
    public mutating func takeLast() -> Builder {
      var last = Builder()
      guard let range = records.popLast() else { return last }
      last.bytes = Array(bytes[range])
      last.records = [0..<range.count]
      last.batchBytes = ProtoSizes.field(range.count)
      bytes.removeSubrange(range)
      batchBytes -= last.batchBytes
      return last
    }

    public mutating func append(_ record: RawRecord) { append(fields: record) }

    public mutating func append(_ record: borrowing RawRecordBytes) { append(fields: copy record) }

    private mutating func append<R: RecordFields>(fields r: R) {
      let sizes = RecordSizes(r)
      let start = bytes.count
      // Room for the record, zeroed from a block of zeros (a memcpy: appending
      // `repeatElement(0, count:)` went a byte at a time, 3% of the CLI's CSV time).
      var left = sizes.record
      while left > 0 {
        let n = Swift.min(left, Self.zeros.count)
        bytes.append(contentsOf: Self.zeros[..<n])
        left -= n
      }
      bytes.withUnsafeMutableBytes { all in
        var w = ProtoOut(UnsafeMutableRawBufferPointer(rebasing: all[start...]))
        w.record(r, sizes)
        precondition(w.at == sizes.record, "EncodedRecords.Builder: wrote \(w.at) bytes of \(sizes.record)")
      }
      records.append(start..<bytes.count)
      batchBytes += ProtoSizes.field(sizes.record)
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
