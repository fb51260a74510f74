/// What a snapshot writes of the index's dictionaries: only values some profile holds.
///
/// A dictionary keeps every value it ever coded (codes are positions), so after a forget the
/// erased person's city, education or interest spellings stayed in it, and a snapshot carried
/// them to disk, from snapshot to snapshot. A value no profile holds is written as a placeholder
/// that keeps its code's place: a NUL and the code, which no record or filter can spell (the
/// protocol's strings cannot carry a NUL).
extension SegmentIndex {
  /// Each column's values, and the interest spellings, with those no profile holds replaced.
  func scrubbedValues() -> (columns: [[String]], interests: [String], incomeNumbers: [Int64?]) {
    var columns: [[String]] = []
    for (c, dictionary) in dictionaries.enumerated() {
      var used = [Bool](repeating: false, count: dictionary.values.count)
      for code in codes[c] where Int(code) < used.count { used[Int(code)] = true }
      columns.append(Self.scrub(dictionary.values, used))
    }
    var usedInterests = [Bool](repeating: false, count: interestDictionary.values.count)
    for profile in interestCodes {
      for code in profile where Int(code) < usedInterests.count { usedInterests[Int(code)] = true }
    }
    let income = Column.income.rawValue
    var numbers = incomeNumbers
    for (code, value) in columns[income].enumerated() where code > 0 && code < numbers.count && value.first == "\0" {
      numbers[code] = nil
    }
    return (columns, Self.scrub(interestDictionary.values, usedInterests), numbers)
  }

  private static func scrub(_ values: [String], _ used: [Bool]) -> [String] {
    var out = values
    for code in 1..<max(1, out.count) where !used[code] { out[code] = "\0\(code)" }
    return out
  }
}
