extension SegmentIndex {
  /// The live profiles matching a filter (all live profiles for nil), as a bitmap.
  /// - Parameters:
  ///   - filter: the filter tree.
  func evaluate(_ filter: Filter?) -> Bitmap {
    guard let filter else { return alive }
    switch filter {
    case .all(let fs):
      guard let first = fs.first else { return alive }
      var result = evaluate(first)
      for f in fs.dropFirst() {
        if result.isEmpty { break }
        result.formIntersection(evaluate(f))
      }
      return result
    case .any(let fs):
      var result = Bitmap(capacity: universe)
      for f in fs { result.formUnion(evaluate(f)) }
      return result
    case .not(let f):
      var result = alive
      result.subtract(evaluate(f))
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
        guard let n, lo.map({ n >= $0 }) ?? true, hi.map({ n <= $0 }) ?? true else { continue }
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
    }
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
