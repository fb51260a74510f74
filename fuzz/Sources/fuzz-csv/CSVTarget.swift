import AudienceCore

/// The CSV parser, fed the input in two chunks split at a position taken from the first byte:
/// every byte sequence must give rows (or row errors), never crash, and the split must not
/// change the result.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCSV(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = Array(UnsafeBufferPointer(start: data, count: size))
  var whole = CSVParser(maxFieldBytes: 4096)
  let expected = whole.feed(bytes) + whole.finish()
  let cut = bytes.isEmpty ? 0 : Int(bytes[0]) % (bytes.count + 1)
  var split = CSVParser(maxFieldBytes: 4096)
  let got = split.feed(bytes[..<cut]) + split.feed(bytes[cut...]) + split.finish()
  if got != expected { fatalError("chunking changed the rows at cut \(cut)") }
  return 0
}
