import AudienceCore

/// Checks, on the raw bytes and before protobuf-c unpacks them:
/// - that a request's filter tree is not nested too deep. protobuf-c unpacks nested messages
///   recursively with no limit, so a small frame holding `not(not(not(...)))` a million levels
///   deep would overflow the stack; this walk follows only the filter fields of the schema and
///   stops at the limit;
/// - that no member of a oneof (the request's method, a filter's node), nor a query's filter,
///   comes twice. protobuf
///   merges a message field that comes twice; protobuf-c keeps only the last of a oneof's
///   member, so an Ingest written as two `ingest` fields lost the first one's records without
///   a word. Such a request is refused instead. (Two different members: the last wins, as
///   protobuf says.)
enum NestingGuard {
  private enum Kind { case request, query, filter, filterList }

  /// - Parameters:
  ///   - bytes: an encoded `audience.v1.Request`.
  ///   - maxDepth: deepest filter accepted.
  static func check(_ bytes: UnsafeRawBufferPointer, maxDepth: Int) throws(AudienceError) {
    var problem: Problem?
    scan(bytes[...], .request, depth: 0, maxDepth: maxDepth, problem: &problem)
    switch problem {
    case nil: return
    case .tooDeep: throw .invalidField("filter", "is nested deeper than \(maxDepth) levels")
    case .twice(.request, let field):
      throw AudienceError(
        .invalidArgument,
        "the request holds its method field \(field) (\(requestFields[field] ?? "?")) twice; send one (its records or values in one message)")
    case .twice(.query, _):
      throw .invalidField("filter", "comes twice in the request; send one (join the two with all)")
    case .twice(_, let field):
      throw .invalidField("filter", "holds its node field \(field) twice; a filter node is one predicate or one all/any/not")
    }
  }

  private enum Problem { case tooDeep, twice(Kind, UInt64) }

  private static let requestFields: [UInt64: String] = [
    10: "hello", 11: "ingest", 12: "get_user", 13: "query_cohort", 14: "health", 15: "analyze", 16: "watch", 17: "cancel",
    18: "forget", 19: "export", 20: "history", 21: "split", 22: "ingest_stream", 23: "ingest_batch",
  ]

  /// Whether `field` may come once only: a message member of the kind's oneof, or a query's
  /// filter (protobuf-c merges two, but keeps only the second's node: `{all: [age]}` then
  /// `{all: [gender]}` was read as gender alone, where protobuf reads both).
  private static func isOneofMember(_ kind: Kind, _ field: UInt64) -> Bool {
    switch kind {
    case .request: (10...23).contains(field)
    case .filter: (1...3).contains(field) || (10...24).contains(field)
    case .query: field == 1
    case .filterList: false
    }
  }

  private static func scan(_ b: Slice<UnsafeRawBufferPointer>, _ kind: Kind, depth: Int, maxDepth: Int, problem: inout Problem?) {
    var i = b.startIndex
    var seen: UInt32 = 0  // oneof members met (field numbers below 32)
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
    while problem == nil, i < b.endIndex {
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
        if isOneofMember(kind, field) {
          let bit: UInt32 = 1 << UInt32(field)
          if seen & bit != 0 { problem = .twice(kind, field); return }
          seen |= bit
        }
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
        if childDepth > maxDepth { problem = .tooDeep; return }
        scan(body, child, depth: childDepth, maxDepth: maxDepth, problem: &problem)
      default: return  // malformed: protobuf-c will reject it
      }
    }
  }
}
