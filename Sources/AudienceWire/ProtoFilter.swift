import AudienceCore
internal import CAudienceProto

/// `audience.v1.Filter` <-> `Filter`.
enum ProtoFilter {
  /// Deepest filter tree accepted (also enforced on the raw bytes by `NestingGuard`).
  static let maxDepth = 32

  /// A request's filter: the `filter` tree and the `where` text (docs/QUERY.md), combined by and.
  /// - Parameters:
  ///   - tree: the `filter` field, if set.
  ///   - text: the `where` field (C string), if set.
  static func decode(
    _ tree: UnsafeMutablePointer<Audience__V1__Filter>?, where text: UnsafeMutablePointer<CChar>?
  ) throws(AudienceError) -> Filter? {
    // Measured on the unpacked message before a Swift value is made of it (a 4 MB tree made
    // tens of megabytes of `Filter`).
    var size = (nodes: 0, values: 0)
    if let tree { try measure(tree, &size) }
    let filter = try tree.map { p throws(AudienceError) in try decode(p) }
    let expression = try CStrings.read(text, "where")
    guard !expression.allSatisfy(\.isWhitespace) else { return filter }
    let parsed = try FilterExpression.parse(expression)
    let text = parsed.size  // each alone was checked (`measure`, `FilterExpression.parse`); now both
    if filter != nil {
      try Filter.checkSize(nodes: size.nodes + text.nodes + 1, values: size.values + text.values, field: "filter and where")
    }
    return filter.map { .all([$0, parsed]) } ?? parsed
  }

  /// Adds a tree's nodes and values to `size`, refusing it as soon as it is past the limits.
  static func measure(
    _ p: UnsafeMutablePointer<Audience__V1__Filter>, _ size: inout (nodes: Int, values: Int), depth: Int = 1
  ) throws(AudienceError) {
    guard depth <= maxDepth else { throw .invalidField("filter", "is nested deeper than \(maxDepth) levels") }
    size.nodes += 1
    let f = p.pointee
    func children(_ l: UnsafeMutablePointer<Audience__V1__FilterList>?) throws(AudienceError) {
      guard let l else { return }
      for i in 0..<l.pointee.n_filters {
        if let child = l.pointee.filters[i] { try measure(child, &size, depth: depth + 1) }
      }
    }
    func values(_ s: UnsafeMutablePointer<Audience__V1__StringSet>?) { size.values += s?.pointee.n_values ?? 0 }
    switch f.node_case {
    case AUDIENCE__V1__FILTER__NODE_ALL: try children(f.all)
    case AUDIENCE__V1__FILTER__NODE_ANY: try children(f.any)
    case AUDIENCE__V1__FILTER__NODE_NOT: if let child = f.not_ { try measure(child, &size, depth: depth + 1) }
    case AUDIENCE__V1__FILTER__NODE_GENDER: values(f.gender)
    case AUDIENCE__V1__FILTER__NODE_COUNTRY: values(f.country)
    case AUDIENCE__V1__FILTER__NODE_STATE: values(f.state)
    case AUDIENCE__V1__FILTER__NODE_CITY: values(f.city)
    case AUDIENCE__V1__FILTER__NODE_EDUCATION: values(f.education)
    case AUDIENCE__V1__FILTER__NODE_INTERESTS_ANY: values(f.interests_any)
    case AUDIENCE__V1__FILTER__NODE_INTERESTS_ALL: values(f.interests_all)
    case AUDIENCE__V1__FILTER__NODE_INTERESTS_NONE: values(f.interests_none)
    case AUDIENCE__V1__FILTER__NODE_CATEGORY: values(f.category)
    case AUDIENCE__V1__FILTER__NODE_INCOME_LABEL: values(f.income_label)
    default: break
    }
    // Measured as far as the limit: past it, "more than".
    try Filter.checkSize(nodes: size.nodes, values: size.values, field: "filter", counted: false)
  }

  /// - Parameters:
  ///   - p: the unpacked node.
  ///   - depth: its depth (the root is 1).
  ///   - path: where it is, for errors (`filter.any[1].not`).
  static func decode(_ p: UnsafeMutablePointer<Audience__V1__Filter>, depth: Int = 1, path: String = "filter") throws(AudienceError) -> Filter {
    guard depth <= maxDepth else { throw .invalidField("filter", "is nested deeper than \(maxDepth) levels") }
    let f = p.pointee
    func list(_ l: UnsafeMutablePointer<Audience__V1__FilterList>?, _ name: String) throws(AudienceError) -> [Filter] {
      guard let l, l.pointee.n_filters > 0 else { return [] }
      var out: [Filter] = []
      for i in 0..<l.pointee.n_filters {
        guard let child = l.pointee.filters[i] else { continue }
        out.append(try decode(child, depth: depth + 1, path: "\(path).\(name)[\(i)]"))
      }
      return out
    }
    func strings(_ s: UnsafeMutablePointer<Audience__V1__StringSet>?, _ name: String) throws(AudienceError) -> [String] {
      // No values: "any of none" matched no one and "all of none" everyone; a mistake either way.
      guard let s, s.pointee.n_values > 0 else { throw .invalidField("\(path).\(name)", "lists no values") }
      return try CStrings.read(s.pointee.n_values, s.pointee.values, "\(path).\(name)")
    }
    func range(_ r: UnsafeMutablePointer<Audience__V1__Range>?, _ name: String) throws(AudienceError) -> (Int64?, Int64?) {
      guard let r = r?.pointee else { return (nil, nil) }
      let lo = r.min_present_case == AUDIENCE__V1__RANGE__MIN_PRESENT_MIN ? r.min : nil
      let hi = r.max_present_case == AUDIENCE__V1__RANGE__MAX_PRESENT_MAX ? r.max : nil
      // As in an expression (age:30..20): an empty range is a mistake, not "no one".
      if let lo, let hi, lo > hi { throw .invalidField("\(path).\(name)", "min \(lo) is above max \(hi)") }
      return (lo, hi)
    }
    switch f.node_case {
    // An empty list is refused, not read as "everyone" or "no one" (docs/PROTOCOL.md).
    case AUDIENCE__V1__FILTER__NODE_ALL:
      let all = try list(f.all, "all")
      guard !all.isEmpty else { throw .invalidField("\(path).all", "is an empty list (leave the filter out to match everyone)") }
      return .all(all)
    case AUDIENCE__V1__FILTER__NODE_ANY:
      let any = try list(f.any, "any")
      guard !any.isEmpty else { throw .invalidField("\(path).any", "is an empty list") }
      return .any(any)
    case AUDIENCE__V1__FILTER__NODE_NOT:
      guard let child = f.not_ else { throw .invalidField("\(path).not", "has no operand") }
      return .not(try decode(child, depth: depth + 1, path: "\(path).not"))
    case AUDIENCE__V1__FILTER__NODE_AGE:
      let (lo, hi) = try range(f.age, "age")
      // As in an expression (age:200) and the CLI's --age-min: no record holds such an age.
      for (bound, value) in [("min", lo), ("max", hi)] {
        if let value, !(0...130).contains(value) {
          throw .invalidField("\(path).age", "\(bound) \(value) is not an age (0 to 130)")
        }
      }
      return .age(min: lo, max: hi)
    case AUDIENCE__V1__FILTER__NODE_INCOME:
      let (lo, hi) = try range(f.income, "income")
      return .income(min: lo, max: hi)
    case AUDIENCE__V1__FILTER__NODE_GENDER: return .strings(.gender, try strings(f.gender, "gender"))
    case AUDIENCE__V1__FILTER__NODE_COUNTRY: return .strings(.country, try strings(f.country, "country"))
    case AUDIENCE__V1__FILTER__NODE_STATE: return .strings(.state, try strings(f.state, "state"))
    case AUDIENCE__V1__FILTER__NODE_CITY: return .strings(.city, try strings(f.city, "city"))
    case AUDIENCE__V1__FILTER__NODE_EDUCATION: return .strings(.education, try strings(f.education, "education"))
    case AUDIENCE__V1__FILTER__NODE_INTERESTS_ANY: return .interests(any: try strings(f.interests_any, "interests_any"))
    case AUDIENCE__V1__FILTER__NODE_INTERESTS_ALL: return .interests(all: try strings(f.interests_all, "interests_all"))
    case AUDIENCE__V1__FILTER__NODE_INTERESTS_NONE:
      return .interests(none: try strings(f.interests_none, "interests_none"))
    case AUDIENCE__V1__FILTER__NODE_CATEGORY: return .categories(try strings(f.category, "category"))
    case AUDIENCE__V1__FILTER__NODE_CREATED:
      let (lo, hi) = try range(f.created, "created")
      return .created(min: lo, max: hi)
    case AUDIENCE__V1__FILTER__NODE_SEEN:
      let (lo, hi) = try range(f.seen, "seen")
      return .seen(min: lo, max: hi)
    case AUDIENCE__V1__FILTER__NODE_COHORT: return .cohort(f.cohort != 0)
    case AUDIENCE__V1__FILTER__NODE_INCOME_LABEL: return .incomeLabels(try strings(f.income_label, "income_label"))
    default:
      // An empty node, or a predicate from a newer protocol: matching everything would be wrong.
      throw .invalidField(path, "has no predicate this server knows (filter node field \(f.node_case.rawValue))")
    }
  }

  static func encode(_ filter: Filter, _ arena: Arena) -> UnsafeMutablePointer<Audience__V1__Filter> {
    let m = arena.allocate(Audience__V1__Filter.self)
    audience__v1__filter__init(m)
    func list(_ fs: [Filter]) -> UnsafeMutablePointer<Audience__V1__FilterList> {
      let l = arena.allocate(Audience__V1__FilterList.self)
      audience__v1__filter_list__init(l)
      l.pointee.n_filters = fs.count
      l.pointee.filters = arena.messages(fs) { encode($0, arena) }
      return l
    }
    /// Interest lists keep their order; a string set is sent sorted, so equal filters encode equally.
    func set(_ values: [String]) -> UnsafeMutablePointer<Audience__V1__StringSet> {
      let s = arena.allocate(Audience__V1__StringSet.self)
      audience__v1__string_set__init(s)
      s.pointee.n_values = values.count
      s.pointee.values = arena.strings(values)
      return s
    }
    func range(_ lo: Int64?, _ hi: Int64?) -> UnsafeMutablePointer<Audience__V1__Range> {
      let r = arena.allocate(Audience__V1__Range.self)
      audience__v1__range__init(r)
      if let lo { r.pointee.min_present_case = AUDIENCE__V1__RANGE__MIN_PRESENT_MIN; r.pointee.min = lo }
      if let hi { r.pointee.max_present_case = AUDIENCE__V1__RANGE__MAX_PRESENT_MAX; r.pointee.max = hi }
      return r
    }
    switch filter {
    case .all(let fs): m.pointee.node_case = AUDIENCE__V1__FILTER__NODE_ALL; m.pointee.all = list(fs)
    case .any(let fs): m.pointee.node_case = AUDIENCE__V1__FILTER__NODE_ANY; m.pointee.any = list(fs)
    case .not(let f): m.pointee.node_case = AUDIENCE__V1__FILTER__NODE_NOT; m.pointee.not_ = encode(f, arena)
    case .age(let lo, let hi): m.pointee.node_case = AUDIENCE__V1__FILTER__NODE_AGE; m.pointee.age = range(lo, hi)
    case .income(let lo, let hi):
      m.pointee.node_case = AUDIENCE__V1__FILTER__NODE_INCOME; m.pointee.income = range(lo, hi)
    case .field(let field, let values):
      switch field {
      case .gender: m.pointee.node_case = AUDIENCE__V1__FILTER__NODE_GENDER; m.pointee.gender = set(values.sorted())
      case .country: m.pointee.node_case = AUDIENCE__V1__FILTER__NODE_COUNTRY; m.pointee.country = set(values.sorted())
      case .state: m.pointee.node_case = AUDIENCE__V1__FILTER__NODE_STATE; m.pointee.state = set(values.sorted())
      case .city: m.pointee.node_case = AUDIENCE__V1__FILTER__NODE_CITY; m.pointee.city = set(values.sorted())
      case .education: m.pointee.node_case = AUDIENCE__V1__FILTER__NODE_EDUCATION; m.pointee.education = set(values.sorted())
      }
    case .interestsAny(let xs):
      m.pointee.node_case = AUDIENCE__V1__FILTER__NODE_INTERESTS_ANY; m.pointee.interests_any = set(xs)
    case .interestsAll(let xs):
      m.pointee.node_case = AUDIENCE__V1__FILTER__NODE_INTERESTS_ALL; m.pointee.interests_all = set(xs)
    case .interestsNone(let xs):
      m.pointee.node_case = AUDIENCE__V1__FILTER__NODE_INTERESTS_NONE; m.pointee.interests_none = set(xs)
    case .category(let names):
      m.pointee.node_case = AUDIENCE__V1__FILTER__NODE_CATEGORY; m.pointee.category = set(names.sorted())
    case .created(let lo, let hi): m.pointee.node_case = AUDIENCE__V1__FILTER__NODE_CREATED; m.pointee.created = range(lo, hi)
    case .seen(let lo, let hi): m.pointee.node_case = AUDIENCE__V1__FILTER__NODE_SEEN; m.pointee.seen = range(lo, hi)
    case .cohort(let member): m.pointee.node_case = AUDIENCE__V1__FILTER__NODE_COHORT; m.pointee.cohort = member ? 1 : 0
    case .incomeLabel(let labels):
      m.pointee.node_case = AUDIENCE__V1__FILTER__NODE_INCOME_LABEL; m.pointee.income_label = set(labels.sorted())
    }
    return m
  }
}
