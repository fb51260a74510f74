import AudienceCore
import AudienceWire
import NIOCore

/// Frame decoding and envelope decoding: the bytes a client may send. Every input must give
/// frames or a framing error, and every frame a request or an error, never a crash; an ingest
/// batch's records (read from the frame's bytes where the server validates them) are each
/// normalized or refused. The payload is also read as a server's response, as the client reads
/// one: whole, and as a lazy QueryCohort page with every field of every user read.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFrames(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  var buffer = ByteBuffer(bytes: UnsafeBufferPointer(start: data, count: size))
  var decoder = FrameDecoder(maxFrameBytes: 1 << 16)
  while true {
    let next: ByteBuffer?
    do { next = try decoder.decode(buffer: &buffer) } catch { break }
    guard let frame = next else { break }
    if let request = try? WireCodec.decodeRequest(frame) {
      validate(request)
      // What decodes must encode again.
      var out = ByteBuffer()
      WireCodec.encode(request, into: &out)
    }
  }
  // The payload alone, as an envelope.
  let payload = ByteBuffer(bytes: UnsafeBufferPointer(start: data, count: size))
  if let request = try? WireCodec.decodeRequest(payload) { validate(request) }
  _ = try? WireCodec.decodeResponse(payload)
  _ = LazyCohortPage.nextCursor(in: payload)
  if let page = try? LazyCohortPage(payload) {
    for user in page.users {
      _ = (user.cookie, user.email, user.phoneNumber, user.createdAt, user.location, user.demographics, user.interests)
    }
    _ = try? page.decoded()
  }
  return 0
}

/// What the server does next with an ingest batch or an Ingest it read: each record normalized
/// from the frame's bytes, or refused.
func validate(_ request: WireRequest) {
  let records: EncodedRecords
  switch request.body {
  case .ingestBatch(let batch):
    guard case .encoded(let received) = batch.records else { return }
    records = received
  case .ingestReceived(let received): records = received
  default: return
  }
  let normalizer = RecordNormalizer()
  records.forEach { _, fields in _ = try? normalizer.normalize(fields) } unreadable: { _, _ in }
}
