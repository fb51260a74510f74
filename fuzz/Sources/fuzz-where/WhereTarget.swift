import AudienceCore

/// The `--where` parser: any text must parse or throw, never crash or hang.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWhere(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
  _ = try? FilterExpression.parse(text)
  return 0
}
