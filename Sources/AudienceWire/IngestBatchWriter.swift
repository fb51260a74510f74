internal import AudienceCore
import NIOCore

/// Writes an ingest batch's request frame straight from its `RawRecord`s: the bytes protobuf-c's
/// `audience__v1__request__pack` writes for the same request (`IngestBatchWriterTests` compares
/// the two), without first copying every field into protobuf-c's C structs.
///
/// Every record of a bulk load goes through here on the client: building the C structs (a
/// NUL-terminated copy of each field, then a second walk to size and pack them) was most of the
/// client's CPU per record, and the client shares the two cores with the server.
enum IngestBatchWriter {
  /// Appends the frame (length prefix included).
  static func write(id: UInt64, timeoutMs: UInt32, _ batch: IngestBatch, into buffer: inout ByteBuffer) {
    let records = batch.records.rawRecords
    // Each record's sizes, taken once: reading a string's length is the first touch of its
    // storage, a cache miss each, and the bytes are written after the batch is sized.
    var sizes = [Sizes](repeating: Sizes(), count: records.count)
    var batchSize = 0
    if batch.stream != 0 { batchSize += 1 + varintSize(batch.stream) }
    if batch.sequence != 0 { batchSize += 1 + varintSize(batch.sequence) }
    records.forEachInPlace { i, r in
      sizes[i] = Sizes(r)
      batchSize += lengthDelimitedSize(sizes[i].record)
    }
    if batch.last { batchSize += 2 }

    var size = lengthDelimitedSize(batchSize) + 1  // field 23's key takes two bytes
    if id != 0 { size += 1 + varintSize(id) }
    if timeoutMs != 0 { size += 1 + varintSize(UInt64(timeoutMs)) }

    buffer.writeInteger(UInt32(size), endianness: .big)
    buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { out in
      let start = out.baseAddress!.assumingMemoryBound(to: UInt8.self)
      var w = Cursor(at: start)
      if id != 0 { w.field(0x08, varint: id) }
      if timeoutMs != 0 { w.field(0x10, varint: UInt64(timeoutMs)) }
      w.varint(23 << 3 | 2)
      w.varint(UInt64(batchSize))
      if batch.stream != 0 { w.field(0x08, varint: batch.stream) }
      if batch.sequence != 0 { w.field(0x10, varint: batch.sequence) }
      records.forEachInPlace { i, r in w.record(r, sizes[i]) }
      if batch.last { w.field(0x20, varint: 1) }
      // A size that disagrees with the bytes written would leave a frame the server misreads.
      precondition(w.p - start == size, "IngestBatchWriter: wrote \(w.p - start) bytes of \(size)")
      return size
    }
  }

  /// A record's encoded size and its two sub-messages'.
  struct Sizes {
    var record = 0
    var location = 0
    var demographics = 0

    init() {}

    /// The encoder always sets the location and the demographics, empty or not, as
    /// `ProtoRecord.encode` does.
    init(_ r: RawRecord) {
      location = stringSize(r.state) + stringSize(r.country) + stringSize(r.city)
      demographics = stringSize(r.gender) + stringSize(r.income) + stringSize(r.education)
      if let a = r.age { demographics += 1 + varintSize(age(a)) }
      record = stringSize(r.cookie) + stringSize(r.email) + stringSize(r.phoneNumber) + stringSize(r.createdAt)
      record += lengthDelimitedSize(location) + lengthDelimitedSize(demographics)
      r.interests.forEachInPlace { _, interest in record += lengthDelimitedSize(interest.utf8.count) }  // repeated: "" is kept
    }
  }

  // MARK: - Sizes

  @inline(__always) static func varintSize(_ v: UInt64) -> Int {
    v < 0x80 ? 1 : (70 - v.leadingZeroBitCount) / 7
  }

  /// A length-delimited field of `n` bytes with a one-byte key.
  @inline(__always) static func lengthDelimitedSize(_ n: Int) -> Int { 1 + varintSize(UInt64(n)) + n }

  /// proto3 leaves an empty string out.
  @inline(__always) static func stringSize(_ s: String) -> Int {
    let n = s.utf8.count
    return n == 0 ? 0 : lengthDelimitedSize(n)
  }

  /// protobuf-c writes a negative int32 as its 64-bit two's complement.
  @inline(__always) static func age(_ age: Int) -> UInt64 { UInt64(bitPattern: Int64(Int32(clamping: age))) }

  // MARK: - Bytes

  struct Cursor {
    var p: UnsafeMutablePointer<UInt8>

    init(at p: UnsafeMutablePointer<UInt8>) { self.p = p }

    @inline(__always) mutating func byte(_ b: UInt8) {
      p.pointee = b
      p += 1
    }

    @inline(__always) mutating func varint(_ v: UInt64) {
      var v = v
      while v >= 0x80 {
        byte(UInt8(truncatingIfNeeded: v) | 0x80)
        v >>= 7
      }
      byte(UInt8(v))
    }

    @inline(__always) mutating func field(_ key: UInt8, varint v: UInt64) {
      byte(key)
      varint(v)
    }

    /// A length-delimited field, written even when empty.
    @inline(__always) mutating func bytes(_ key: UInt8, _ s: String) {
      s.withUTF8InPlace { utf8 in
        byte(key)
        varint(UInt64(utf8.count))
        if let base = utf8.baseAddress {
          p.update(from: base, count: utf8.count)
          p += utf8.count
        }
      }
    }

    @inline(__always) mutating func string(_ key: UInt8, _ s: String) {
      if !s.utf8.isEmpty { bytes(key, s) }
    }

    mutating func record(_ r: RawRecord, _ sizes: Sizes) {
      byte(0x1A)  // IngestBatch.records, length-delimited
      varint(UInt64(sizes.record))
      string(0x0A, r.cookie)
      string(0x12, r.email)
      string(0x1A, r.phoneNumber)
      string(0x22, r.createdAt)
      byte(0x2A)
      varint(UInt64(sizes.location))
      string(0x0A, r.state)
      string(0x12, r.country)
      string(0x1A, r.city)
      byte(0x32)
      varint(UInt64(sizes.demographics))
      if let a = r.age { field(0x08, varint: IngestBatchWriter.age(a)) }
      string(0x12, r.gender)
      string(0x1A, r.income)
      string(0x22, r.education)
      r.interests.forEachInPlace { _, interest in bytes(0x3A, interest) }
    }
  }
}
