import AudienceCore

/// Checks, on the raw bytes and before protobuf-c unpacks them, that a request's filter
/// tree is not nested too deep. protobuf-c unpacks nested messages recursively with no
/// limit, so a small frame holding `not(not(not(...)))` a million levels deep would
/// overflow the stack; this walk follows only the filter fields of the schema and stops
/// at the limit.
enum NestingGuard {
  private enum Kind { case request, query, filter, filterList }

  /// - Parameters:
  ///   - bytes: an encoded `audience.v1.Request`.
  ///   - maxDepth: deepest filter accepted.
  static func check(_ bytes: UnsafeRawBufferPointer, maxDepth: Int) throws(AudienceError) {
    var ok = true
    scan(bytes[...], .request, depth: 0, maxDepth: maxDepth, ok: &ok)
    if !ok { throw .invalidField("filter", "is nested deeper than \(maxDepth) levels") }
  }

  private static func scan(_ b: Slice<UnsafeRawBufferPointer>, _ kind: Kind, depth: Int, maxDepth: Int, ok: inout Bool) {
    var i = b.startIndex
    func varint() -> UInt64? {
      var v: UInt64 = 0, shift: UInt64 = 0
      while i < b.endIndex, shift < 64 {
        let byte = b[i]; i += 1
        v |= UInt64(byte & 0x7F) << shift
        if byte & 0x80 == 0 { return v }
        shift += 7
      }
      return nil
    }
    while ok, i < b.endIndex {
      guard let tag = varint() else { return }
      let field = tag >> 3
      switch tag & 7 {
      case 0: guard varint() != nil else { return }
      case 1: i += 8
      case 5: i += 4
      case 2:
        guard let len = varint(), len <= UInt64(b.endIndex - i) else { return }
        let body = b[i..<(i + Int(len))]
        i += Int(len)
        let child: Kind? =
          switch (kind, field) {
          case (.request, 13), (.request, 15), (.request, 16): .query
          case (.query, 1): .filter
          case (.filter, 1), (.filter, 2): .filterList
          case (.filter, 3), (.filterList, 1): .filter
          default: nil
          }
        guard let child else { continue }
        let childDepth = child == .filter ? depth + 1 : depth
        if childDepth > maxDepth { ok = false; return }
        scan(body, child, depth: childDepth, maxDepth: maxDepth, ok: &ok)
      default: return  // malformed: protobuf-c will reject it
      }
    }
  }
}
