extension SegmentIndex {
  /// Fills a report builder from the index: every count is a posting set's size within the
  /// segment (its plain size when the segment is every live profile).
  /// - Parameters:
  ///   - segment: the profiles analyzed.
  ///   - builder: receives the counts.
  func accumulate(_ segment: Bitmap, into b: inout ReportBuilder) {
    let everyone = segment == alive
    func size(_ p: PostingSet) -> Int { everyone ? p.count : p.intersectionCount(segment) }
    func counts(_ column: Column) -> [String: Int] {
      let c = column.rawValue
      var out: [String: Int] = [:]
      for code in 1..<postings[c].count {
        let n = size(postings[c][code])
        if n > 0 { out[dictionaries[c].values[code]] = n }
      }
      return out
    }
    b.total = segment.count
    b.countries = counts(.country)
    b.states = counts(.state)
    b.cities = counts(.city)
    b.genders = counts(.gender)
    b.education = counts(.education)
    let income = Column.income.rawValue
    var known = 0
    for code in 1..<postings[income].count {
      let n = size(postings[income][code])
      guard n > 0 else { continue }
      known += n
      if let v = incomeNumbers[code] {
        b.incomeBands[ReportBuilder.bandLimits.firstIndex { v < $0 } ?? ReportBuilder.bandLimits.count] += n
      } else {
        b.incomeLabels[dictionaries[income].values[code], default: 0] += n
      }
    }
    b.incomeUnknown = b.total - known
    for age in 0...Self.maxAge { b.ages[age] = size(agePostings[age]) }

    // Interests by spelling; categories: each profile goes to the first category (in order)
    // any of its interests belongs to.
    for code in 1..<interestPostings.count {
      let n = size(interestPostings[code])
      if n > 0 { b.spellings[interestDictionary.values[code]] = n }
    }
    for (i, members) in categoryMembers(b.categories).enumerated() {
      b.categoryCounts[i] = everyone ? members.count : members.intersectionCount(segment)
    }

    if b.wantsIncome {
      let incomeCodes = codes[income]
      // Each income code's number, fraction included (`incomeNumbers` holds whole parts).
      let exact = incomeNumbers.indices.map { code in
        incomeNumbers[code] == nil ? nil : Filter.incomeValue(dictionaries[income].values[code])
      }
      segment.forEach { id in
        let age = ages[id]
        if age != Self.noAge, let v = exact[Int(incomeCodes[id])] {
          b.pairs[ReportBuilder.Pair(age: Int(age), income: v), default: 0] += 1
        }
        return true
      }
    }
  }
}
