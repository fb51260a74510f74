internal import AudienceCore
import NIOCore

/// Writes an ingest batch's request frame straight from its records: the bytes protobuf-c's
/// `audience__v1__request__pack` writes for the same request (`IngestBatchWriterTests` compares
/// the two), without first copying every field into protobuf-c's C structs. Sized with
/// `ProtoSizes` and written with `ProtoOut`, as the packed views' frames are.
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
        recordBytes += ProtoSizes.field(sizes[i].record)
      }
      write(id: id, timeoutMs: timeoutMs, batch, recordBytes: recordBytes, into: &buffer) { w in
        records.forEachInPlace { i, r in
          w.tag(3, size: sizes[i].record)  // IngestBatch.records
          w.record(r, sizes[i])
        }
      }
    case .encoded(let encoded):
      // Records written before (`EncodedRecords.Builder`): each is copied behind its key and length.
      var recordBytes = 0
      for range in encoded.records { recordBytes += ProtoSizes.field(range.count) }
      write(id: id, timeoutMs: timeoutMs, batch, recordBytes: recordBytes, into: &buffer) { w in
        encoded.bytes.withUnsafeBufferPointer { all in
          for range in encoded.records {
            w.tag(3, size: range.count)
            w.bytes(UnsafeBufferPointer(rebasing: all[range]))
          }
        }
      }
    }
  }

  /// The frame around the records, which `records` writes (`recordBytes` of them, keys included).
  private static func write(
    id: UInt64, timeoutMs: UInt32, _ batch: IngestBatch, recordBytes: Int, into buffer: inout ByteBuffer,
    records: (inout ProtoOut) -> Void
  ) {
    var batchSize = recordBytes
    if batch.stream != 0 { batchSize += 1 + ProtoSizes.varint(batch.stream) }
    if batch.sequence != 0 { batchSize += 1 + ProtoSizes.varint(batch.sequence) }
    if batch.last { batchSize += 2 }

    var payload = ProtoSizes.field(batchSize) + 1  // field 23's key takes two bytes
    if id != 0 { payload += 1 + ProtoSizes.varint(id) }
    if timeoutMs != 0 { payload += 1 + ProtoSizes.varint(UInt64(timeoutMs)) }

    buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 4 + payload) { out in
      var w = ProtoOut(out)
      w.frameLength(payload)
      w.nonZero(1, id)  // Request.id
      w.nonZero(2, UInt64(timeoutMs))  // Request.timeout_ms
      w.tag(23, size: batchSize)  // Request.ingest_batch
      w.nonZero(1, batch.stream)
      w.nonZero(2, batch.sequence)
      records(&w)
      w.nonZero(4, batch.last ? 1 : 0)
      // A size that disagrees with the bytes written would leave a frame the server misreads.
      precondition(w.at == 4 + payload, "IngestBatchWriter: wrote \(w.at) bytes of \(4 + payload)")
      return w.at
    }
  }

  /// protobuf-c writes a negative int32 as its 64-bit two's complement.
  @inline(__always) static func age(_ age: Int) -> UInt64 { UInt64(bitPattern: Int64(Int32(clamping: age))) }
}

extension ProtoOut {
  /// A varint field; proto3 leaves out a zero.
  @inline(__always) mutating func nonZero(_ field: UInt64, _ value: UInt64) {
    guard value != 0 else { return }
    key(field, wireType: 0)
    varint(value)
  }

  /// A length-delimited text field, written even when empty.
  @inline(__always) mutating func text<T: RecordText>(_ field: UInt64, _ text: T) {
    text.withBytes { utf8 in
      tag(field, size: utf8.count)
      bytes(utf8)
    }
  }

  /// A string field: proto3 leaves out an empty one.
  @inline(__always) mutating func string<T: RecordText>(_ field: UInt64, _ text: T) {
    if text.byteCount != 0 { self.text(field, text) }
  }

  /// The record's fields (without its own key and length), as `ProtoRecord.encode` sets them:
  /// the location and the demographics always, empty or not.
  mutating func record<R: RecordFields>(_ r: R, _ sizes: RecordSizes) {
    string(1, r.cookie)
    string(2, r.email)
    string(3, r.phoneNumber)
    string(4, r.createdAt)
    tag(5, size: sizes.location)
    string(1, r.state)
    string(2, r.country)
    string(3, r.city)
    tag(6, size: sizes.demographics)
    if let a = r.age {  // a oneof: a zero is written
      key(1, wireType: 0)
      varint(IngestBatchWriter.age(a))
    }
    string(2, r.gender)
    string(3, r.income)
    string(4, r.education)
    r.interests.forEachInPlace { _, interest in text(7, interest) }  // repeated: "" is kept
  }
}

/// A record's encoded size (without its key and length) and its two sub-messages'.
struct RecordSizes {
  var record = 0
  var location = 0
  var demographics = 0

  init() {}

  // Borrowing: an initializer takes its arguments owned, so passing a record copied it.
  init<R: RecordFields>(_ r: borrowing R) {
    func string<T: RecordText>(_ t: T) -> Int { t.byteCount == 0 ? 0 : ProtoSizes.field(t.byteCount) }
    location = string(r.state) + string(r.country) + string(r.city)
    demographics = string(r.gender) + string(r.income) + string(r.education)
    if let a = r.age { demographics += 1 + ProtoSizes.varint(IngestBatchWriter.age(a)) }
    record = string(r.cookie) + string(r.email) + string(r.phoneNumber) + string(r.createdAt)
    record += ProtoSizes.field(location) + ProtoSizes.field(demographics)
    r.interests.forEachInPlace { _, interest in record += ProtoSizes.field(interest.byteCount) }  // repeated: "" is kept
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
