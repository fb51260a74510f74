import AudienceCore

/// A `Filter` as a MongoDB query over the `q` values of `unique` documents. Every predicate is
/// pushed down; each is served by an index on its `q` field (see docs/MONGODB.md). The
/// semantics are the embedded index's: a range or value test is false for a missing value, and
/// `not` is its complement (`$nor`).
enum MongoFilter {
  /// Matches no document.
  static let nothing: JSONValue = .object([("_id", .object([("$in", .array([]))]))])
  /// Matches every document.
  static let everything: JSONValue = .object([])

  static func query(_ filter: Filter?) -> JSONValue {
    guard let filter else { return everything }
    switch filter {
    case .all(let fs): return fs.isEmpty ? everything : .object([("$and", .array(fs.map { query($0) }))])
    case .any(let fs): return fs.isEmpty ? nothing : .object([("$or", .array(fs.map { query($0) }))])
    case .not(let f): return .object([("$nor", .array([query(f)]))])
    case .age(let lo, let hi): return range("q.age", lo, hi)
    case .field(let field, let values): return oneOf("q.\(field.rawValue)", values.sorted())
    case .income(let lo, let hi): return range("q.income", lo, hi)
    case .incomeLabel(let labels): return oneOf("q.income_label", labels.sorted())
    case .interestsAny(let xs): return oneOf("q.interests", xs)
    case .interestsAll(let xs):
      return xs.isEmpty ? everything : .object([("q.interests", .object([("$all", strings(xs))]))])
    case .interestsNone(let xs): return .object([("q.interests", .object([("$nin", strings(xs))]))])
    case .category(let names): return oneOf("q.category", names.sorted())
    case .created(let lo, let hi): return range("q.created", lo, hi)
    case .seen(let lo, let hi): return range("q.seen", lo, hi)
    case .cohort(let member): return .object([("q.cohort", .bool(member))])
    }
  }

  private static func strings(_ xs: [String]) -> JSONValue { .array(xs.map { .string($0) }) }

  private static func oneOf(_ path: String, _ values: [String]) -> JSONValue {
    values.isEmpty ? nothing : .object([(path, .object([("$in", strings(values))]))])
  }

  private static func range(_ path: String, _ lo: Int64?, _ hi: Int64?) -> JSONValue {
    var bounds: [(String, JSONValue)] = [("$exists", .bool(true))]
    if let lo { bounds.append(("$gte", .int(lo))) }
    if let hi { bounds.append(("$lte", .int(hi))) }
    return .object([(path, .object(bounds))])
  }
}
