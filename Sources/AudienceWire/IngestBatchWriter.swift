internal import AudienceCore
import NIOCore

/// Writes an ingest batch's request frame straight from its records: the bytes protobuf-c's
/// `audience__v1__request__pack` writes for the same request (`IngestBatchWriterTests` compares
/// the two), without first copying every field into protobuf-c's C structs.
///
///
/// One difference, on purpose: a string holding a NUL byte. protobuf-c takes strings as C
/// strings and cuts one at its first NUL; this writer sends every byte, so the server refuses
/// that record by name (docs/PROTOCOL.md) instead of storing it cut short. The client library
/// and the CLI refuse such records before they are sent, as before.
///
/// Every record of a bulk load goes through here on the client: building the C structs (a
/// NUL-terminated copy of each field, then a second walk to size and pack them) was most of the
/// client's CPU per record, and the client shares the two cores with the server.
enum IngestBatchWriter {
  /// Appends the frame (length prefix included).
  static func write(id: UInt64, timeoutMs: UInt32, _ batch: IngestBatch, into buffer: inout ByteBuffer) {
    switch batch.records {
    case .decoded(let records):
      // Each record's sizes, taken once: reading a string's length is the first touch of its
      // storage, and the bytes are written after the batch is sized.
      var sizes = [RecordSizes](repeating: RecordSizes(), count: records.count)
      var recordBytes = 0
      records.forEachInPlace { i, r in
        sizes[i] = RecordSizes(r)
        recordBytes += lengthDelimitedSize(sizes[i].record)
      }
      write(id: id, timeoutMs: timeoutMs, batch, recordBytes: recordBytes, into: &buffer) { w in
        records.forEachInPlace { i, r in
          w.byte(0x1A)  // IngestBatch.records, length-delimited
          w.varint(UInt64(sizes[i].record))
          w.record(r, sizes[i])
        }
      }
    case .encoded(let encoded):
      // Records written before (`EncodedRecords.Builder`): each is copied behind its key and length.
      var recordBytes = 0
      for range in encoded.records { recordBytes += lengthDelimitedSize(range.count) }
      write(id: id, timeoutMs: timeoutMs, batch, recordBytes: recordBytes, into: &buffer) { w in
        encoded.bytes.withUnsafeBufferPointer { all in
          for range in encoded.records {
            w.byte(0x1A)
            w.varint(UInt64(range.count))
            w.copy(UnsafeBufferPointer(rebasing: all[range]))
          }
        }
      }
    }
  }

  /// The frame around the records, which `records` writes (`recordBytes` of them, keys included).
  private static func write(
    id: UInt64, timeoutMs: UInt32, _ batch: IngestBatch, recordBytes: Int, into buffer: inout ByteBuffer,
    records: (inout Cursor) -> Void
  ) {
    var batchSize = recordBytes
    if batch.stream != 0 { batchSize += 1 + varintSize(batch.stream) }
    if batch.sequence != 0 { batchSize += 1 + varintSize(batch.sequence) }
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
      records(&w)
      if batch.last { w.field(0x20, varint: 1) }
      // A size that disagrees with the bytes written would leave a frame the server misreads.
      precondition(w.p - start == size, "IngestBatchWriter: wrote \(w.p - start) bytes of \(size)")
      return size
    }
  }

  // MARK: - Sizes

  @inline(__always) static func varintSize(_ v: UInt64) -> Int {
    v < 0x80 ? 1 : (70 - v.leadingZeroBitCount) / 7
  }

  /// A length-delimited field of `n` bytes with a one-byte key.
  @inline(__always) static func lengthDelimitedSize(_ n: Int) -> Int { 1 + varintSize(UInt64(n)) + n }

  /// proto3 leaves an empty string out.
  @inline(__always) static func stringSize(_ n: Int) -> Int { n == 0 ? 0 : lengthDelimitedSize(n) }

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

    @inline(__always) mutating func copy(_ bytes: UnsafeBufferPointer<UInt8>) {
      if let base = bytes.baseAddress {
        p.update(from: base, count: bytes.count)
        p += bytes.count
      }
    }

    /// A length-delimited field, written even when empty.
    @inline(__always) mutating func bytes<T: RecordText>(_ key: UInt8, _ text: T) {
      text.withBytes { utf8 in
        byte(key)
        varint(UInt64(utf8.count))
        copy(utf8)
      }
    }

    @inline(__always) mutating func string<T: RecordText>(_ key: UInt8, _ text: T) {
      if text.byteCount != 0 { bytes(key, text) }
    }

    /// The record's fields (without its own key and length), as `ProtoRecord.encode` sets them:
    /// the location and the demographics always, empty or not.
    mutating func record<R: RecordFields>(_ r: R, _ sizes: RecordSizes) {
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

/// A record's encoded size (without its key and length) and its two sub-messages'.
struct RecordSizes {
  var record = 0
  var location = 0
  var demographics = 0

  init() {}

  init<R: RecordFields>(_ r: R) {
    typealias W = IngestBatchWriter
    location = W.stringSize(r.state.byteCount) + W.stringSize(r.country.byteCount) + W.stringSize(r.city.byteCount)
    demographics = W.stringSize(r.gender.byteCount) + W.stringSize(r.income.byteCount) + W.stringSize(r.education.byteCount)
    if let a = r.age { demographics += 1 + W.varintSize(W.age(a)) }
    record = W.stringSize(r.cookie.byteCount) + W.stringSize(r.email.byteCount) + W.stringSize(r.phoneNumber.byteCount)
    record += W.stringSize(r.createdAt.byteCount)
    record += W.lengthDelimitedSize(location) + W.lengthDelimitedSize(demographics)
    r.interests.forEachInPlace { _, interest in record += W.lengthDelimitedSize(interest.byteCount) }  // repeated: "" is kept
  }
}

/// A field's text as a record holds it: a `String` (`RawRecord`) or a span of bytes
/// (`RawRecordBytes`).
protocol RecordText {
  var byteCount: Int { get }
  func withBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R
}

extension String: RecordText {
  @inline(__always) var byteCount: Int { utf8.count }
  @inline(__always) func withBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R { withUTF8InPlace(body) }
}

extension UnsafeBufferPointer<UInt8>: RecordText {
  @inline(__always) var byteCount: Int { count }
  @inline(__always) func withBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R { body(self) }
}

/// A record's fields, for `IngestBatchWriter`: one writer for `RawRecord`s (the client library)
/// and `RawRecordBytes` (spans of a CSV file, `EncodedRecords.Builder`).
protocol RecordFields {
  associatedtype Text: RecordText
  var cookie: Text { get }
  var email: Text { get }
  var phoneNumber: Text { get }
  var createdAt: Text { get }
  var state: Text { get }
  var country: Text { get }
  var city: Text { get }
  var age: Int? { get }
  var gender: Text { get }
  var income: Text { get }
  var education: Text { get }
  var interests: [Text] { get }
}

extension RawRecord: RecordFields {}
extension RawRecordBytes: RecordFields {}
