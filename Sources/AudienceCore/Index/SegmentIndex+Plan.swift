/// Planning `and`: rather than building a bitmap for every child and intersecting them, build
/// the cheapest one (or those that must be built) and check the rest profile by profile
/// against their columns. For "age 20-30 and Gaming and USA" over 1M profiles, that is the
/// Gaming posting list filtered by two byte/word lookups per member, instead of three
/// million-bit bitmaps.
extension SegmentIndex {
  /// A predicate answerable from one per-profile column.
  enum ColumnTest {
    case age(UInt8, UInt8)
    /// Passes when the column's code is allowed (a table indexed by code).
    case codes(Int, [Bool])
    case created(Int64, Int64)
    case seen(Int64, Int64)
  }

  func columnTest(_ f: Filter) -> ColumnTest? {
    switch f {
    case .age(let lo, let hi):
      let from = max(lo ?? 0, 0), to = min(hi ?? Int64(Self.maxAge), Int64(Self.maxAge))
      guard from <= to else { return .codes(0, []) }  // nothing passes
      return .age(UInt8(from), UInt8(to))
    case .field(let field, let values):
      let c = Column(field).rawValue
      var allowed = [Bool](repeating: false, count: dictionaries[c].count)
      for v in values { for code in dictionaries[c].codes(folded: v) { allowed[Int(code)] = true } }
      return .codes(c, allowed)
    case .income(let lo, let hi):
      let allowed = incomeNumbers.enumerated().map { code, number -> Bool in
        guard let n = number else { return false }
        return incomeCode(code, n, within: lo, hi)
      }
      return .codes(Column.income.rawValue, allowed)
    case .incomeLabel(let labels):
      let c = Column.income.rawValue
      var allowed = [Bool](repeating: false, count: dictionaries[c].count)
      for label in labels {
        for code in dictionaries[c].codes(folded: label) where incomeNumbers[Int(code)] == nil { allowed[Int(code)] = true }
      }
      return .codes(c, allowed)
    case .created(let lo, let hi): return .created(lo ?? .min, hi ?? .max)
    case .seen(let lo, let hi): return .seen(lo ?? .min, hi ?? .max)
    default: return nil
    }
  }

  /// Roughly how much work building the test's bitmap from postings is: ids inserted, plus a
  /// quarter of a unit per word of each dense posting OR-ed in. Checking one member against a
  /// column costs about two units.
  func buildCost(_ t: ColumnTest) -> Int {
    func cost(_ p: PostingSet) -> Int { p.isDense ? universe >> 8 : p.count }
    switch t {
    case .age(let lo, let hi): return (Int(lo)...Int(hi)).reduce(0) { $0 + cost(agePostings[$1]) }
    case .codes(let c, let allowed):
      var n = 0
      for (code, ok) in allowed.enumerated() where ok && code > 0 && code < postings[c].count { n += cost(postings[c][code]) }
      return n
    case .created, .seen: return universe * 2
    }
  }

  /// Keeps the members of `result` that pass the test.
  func filter(_ result: inout Bitmap, _ t: ColumnTest) {
    switch t {
    case .age(let lo, let hi):
      ages.withUnsafeBufferPointer { a in result.keep { a[$0] &- lo <= hi &- lo } }
    case .codes(let c, let allowed):
      codes[c].withUnsafeBufferPointer { col in
        allowed.withUnsafeBufferPointer { ok in result.keep { Int(col[$0]) < ok.count && ok[Int(col[$0])] } }
      }
    case .created(let lo, let hi):
      created.withUnsafeBufferPointer { col in result.keep { col[$0] >= lo && col[$0] <= hi } }
    case .seen(let lo, let hi):
      seen.withUnsafeBufferPointer { col in result.keep { col[$0] >= lo && col[$0] <= hi } }
    }
  }

  /// `and` of the children: the ones without a column test are built and intersected; with
  /// none, the cheapest test is built. Each remaining test, cheapest first, then either
  /// filters the members one by one or is built and intersected, whichever costs less.
  func evaluateAll(_ fs: [Filter], _ categories: InterestCategories) -> Bitmap {
    var tests: [(test: ColumnTest, filter: Filter, cost: Int)] = []
    var built: Bitmap?
    for f in fs {
      if let t = columnTest(f) {
        tests.append((t, f, buildCost(t)))
        continue
      }
      let b = evaluate(f, categories)
      if built == nil { built = b } else { built!.formIntersection(b) }
      if built!.isEmpty { return built! }
    }
    tests.sort { $0.cost < $1.cost }
    if built == nil {
      guard !tests.isEmpty else { return alive }
      built = evaluate(tests.removeFirst().filter, categories)
    }
    var result = built!
    for t in tests {
      if result.count * 2 < t.cost {
        filter(&result, t.test)
      } else {
        result.formIntersection(evaluate(t.filter, categories))
      }
      if result.isEmpty { break }
    }
    return result
  }
}

extension Bitmap {
  /// Removes the members for which `keep` is false.
  @inline(__always)
  mutating func keep(_ keep: (Int) -> Bool) {
    words.withUnsafeMutableBufferPointer { ws in
      for w in 0..<ws.count {
        var bits = ws[w]
        guard bits != 0 else { continue }
        var word = bits
        while bits != 0 {
          let t = bits.trailingZeroBitCount
          if !keep(w << 6 | t) { word &= ~(1 << UInt64(t)) }
          bits &= bits &- 1
        }
        ws[w] = word
      }
    }
  }
}
