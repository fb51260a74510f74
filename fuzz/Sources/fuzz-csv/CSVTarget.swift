import AudienceCore

/// The CSV parser, fed the input in two chunks split at a position taken from the first byte:
/// every byte sequence must give rows (or row errors), never crash, and the split must not
/// change the result. The field limit comes from the second byte (4 to 67 bytes, so that
/// quoted fields pass it, and its 16-fold reading cap, within the input's 4,096 bytes), or is
/// 4,096.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCSV(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = Array(UnsafeBufferPointer(start: data, count: size))
  let limit = size > 1 && bytes[1] & 0x80 == 0 ? 4 + Int(bytes[1] & 0x3F) : 4096
  var whole = CSVParser(maxFieldBytes: limit)
  let expected = whole.feed(bytes) + whole.finish()
  let cut = bytes.isEmpty ? 0 : Int(bytes[0]) % (bytes.count + 1)
  var split = CSVParser(maxFieldBytes: limit)
  let got = split.feed(bytes[..<cut]) + split.feed(bytes[cut...]) + split.finish()
  if got != expected { fatalError("chunking changed the rows at cut \(cut)") }
  return 0
}
