/// How large a filter may be. A filter is evaluated under the store's lock, and a predicate on a
/// range (`created`, `seen`, `income`, `age`) reads a column of every profile: a request of a
/// hundred thousand such predicates (half a megabyte) held every other client for seconds
/// (reads now share the embedded store's lock, but writes still wait for the reads under way). The
/// limits are far above any real segment, and a list of values (`country:A,B,C`) is one node.
extension Filter {
  /// Most nodes: predicates, and the `and`/`or`/`not` around them.
  public static let maxNodes = 256
  /// Most values in all of its lists.
  public static let maxValues = 4_096

  /// Nodes and values.
  public var size: (nodes: Int, values: Int) {
    switch self {
    case .all(let fs), .any(let fs):
      return fs.reduce((1, 0)) { total, f in
        let s = f.size
        return (total.0 + s.nodes, total.1 + s.values)
      }
    case .not(let f):
      let s = f.size
      return (s.nodes + 1, s.values)
    case .field(_, let values), .category(let values), .incomeLabel(let values): return (1, values.count)
    case .interestsAny(let xs), .interestsAll(let xs), .interestsNone(let xs): return (1, xs.count)
    case .age, .income, .created, .seen, .cohort: return (1, 0)
    }
  }

  /// Refuses a filter past `maxNodes` or `maxValues`.
  /// - Parameters:
  ///   - field: the request field it came in (`filter`, `where`).
  ///   - counted: whether the counts are the whole filter's; false when counting stopped at the
  ///     first node past a limit (the message then says "more than").
  public static func checkSize(nodes: Int, values: Int, field: String, counted: Bool = true) throws(AudienceError) {
    if nodes > maxNodes {
      throw .invalidField(
        field,
        "has \(counted ? "\(nodes)" : "more than \(maxNodes)") predicates and operators; at most \(maxNodes) (a list of values, country:A,B,C, is one; a run of one operator, a or b or c, is one)")
    }
    if values > maxValues {
      throw .invalidField(field, "lists \(counted ? "\(values)" : "more than \(maxValues)") values; at most \(maxValues)")
    }
  }
}
