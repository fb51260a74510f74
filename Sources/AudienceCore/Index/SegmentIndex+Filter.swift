extension SegmentIndex {
  /// The live profiles matching a filter (all live profiles for nil), as a bitmap.
  /// - Parameters:
  ///   - filter: the filter tree.
  ///   - categories: interest categories, for `category` predicates.
  func evaluate(_ filter: Filter?, _ categories: InterestCategories) -> Bitmap {
    guard let filter else { return alive }
    switch filter {
    case .all(let fs):
      return evaluateAll(fs, categories)
    case .any(let fs):
      var result = Bitmap(capacity: universe)
      for f in fs { result.formUnion(evaluate(f, categories)) }
      return result
    case .not(let f):
      var result = alive
      result.subtract(evaluate(f, categories))
      return result
    case .age(let lo, let hi):
      let from = max(lo ?? 0, 0), to = min(hi ?? Int64(Self.maxAge), Int64(Self.maxAge))
      var result = Bitmap(capacity: universe)
      if from <= to {
        for a in Int(from)...Int(to) { agePostings[a].union(into: &result) }
      }
      return result
    case .field(let field, let values):
      let c = Column(field).rawValue
      var result = Bitmap(capacity: universe)
      for v in values {
        for code in dictionaries[c].codes(folded: v) { postings[c][Int(code)].union(into: &result) }
      }
      return result
    case .income(let lo, let hi):
      var result = Bitmap(capacity: universe)
      let c = Column.income.rawValue
      for (code, n) in incomeNumbers.enumerated() {
        guard let n, incomeCode(code, n, within: lo, hi) else { continue }
        postings[c][code].union(into: &result)
      }
      return result
    case .interestsAny(let xs):
      return interests(anyOf: xs)
    case .interestsAll(let xs):
      guard let first = xs.first else { return alive }
      var result = interests(anyOf: [first])
      for x in xs.dropFirst() { result.formIntersection(interests(anyOf: [x])) }
      return result
    case .interestsNone(let xs):
      var result = alive
      result.subtract(interests(anyOf: xs))
      return result
    case .category(let names):
      var result = Bitmap(capacity: universe)
      let members = categoryMembers(categories)
      for (i, name) in (categories.order + [categories.fallback]).enumerated() where names.contains(Filter.fold(name)) {
        result.formUnion(members[i])
      }
      return result
    case .created(let lo, let hi): return range(created, lo, hi)
    case .seen(let lo, let hi): return range(seen, lo, hi)
    case .cohort(let member):
      var result = member ? cohort : alive
      if !member { result.subtract(cohort) }
      return result
    case .incomeLabel(let labels):
      var result = Bitmap(capacity: universe)
      let c = Column.income.rawValue
      for label in labels {
        for code in dictionaries[c].codes(folded: label) where incomeNumbers[Int(code)] == nil {
          postings[c][Int(code)].union(into: &result)
        }
      }
      return result
    }
  }

  /// Whether an income code's value is within whole bounds. `incomeNumbers` holds whole parts
  /// (floor): exact for the low bound, and for the high one except at it, where a value with a
  /// fraction (100.9 against 100) is above it.
  func incomeCode(_ code: Int, _ whole: Int64, within lo: Int64?, _ hi: Int64?) -> Bool {
    guard whole >= (lo ?? .min), whole <= (hi ?? .max) else { return false }
    guard whole == hi else { return true }
    // At the high bound, within unless it has a fraction (exactly: no Double).
    return !Filter.hasFraction(dictionaries[Column.income.rawValue].values[code])
  }

  /// Live profiles whose value in a per-profile column is within the range.
  private func range(_ column: [Int64], _ lo: Int64?, _ hi: Int64?) -> Bitmap {
    var result = Bitmap(capacity: universe)
    let lo = lo ?? .min, hi = hi ?? .max
    guard lo <= hi else { return result }
    column.withUnsafeBufferPointer { values in
      alive.forEach { id in
        if values[id] >= lo && values[id] <= hi { result.insert(id) }
        return true
      }
    }
    return result
  }

  /// Each category's members (a profile belongs to the first category, in order, any of its
  /// interests is in), then the fallback's: one bitmap per name of `order + [fallback]`.
  func categoryMembers(_ categories: InterestCategories) -> [Bitmap] {
    var byCategory = [[Int]](repeating: [], count: categories.order.count)
    for code in 1..<interestPostings.count where interestPostings[code].count > 0 {
      if let c = categories.category(ofFolded: Filter.fold(interestDictionary.values[code])) { byCategory[c].append(code) }
    }
    var taken = Bitmap(capacity: universe)
    var out: [Bitmap] = []
    for codes in byCategory {
      var members = Bitmap(capacity: universe)
      for code in codes { interestPostings[code].union(into: &members) }
      members.subtract(taken)
      taken.formUnion(members)
      out.append(members)
    }
    var rest = alive
    rest.subtract(taken)
    out.append(rest)
    return out
  }

  /// Profiles having any of the (folded) interests, in any spelling.
  private func interests(anyOf folded: [String]) -> Bitmap {
    var result = Bitmap(capacity: universe)
    for x in folded {
      for code in interestDictionary.codes(folded: x) { interestPostings[Int(code)].union(into: &result) }
    }
    return result
  }
}
