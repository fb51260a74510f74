import AudienceCore

/// Analyze's counts as aggregation pipelines: the segment's `$match`, then one `$group` per
/// figure, so MongoDB sends counts, not the segment's documents. The core turns the counts into
/// the report (histograms, bands, k-means), exactly as for the embedded store.
enum MongoAnalytics {
  static func counts(_ s: MongoSession, _ filter: JSONValue, wantsIncome: Bool) throws -> SegmentCounts {
    func pipeline(_ key: JSONValue, unwind: String? = nil) -> [JSONValue] {
      var stages: [JSONValue] = [.object([("$match", filter)])]
      if let unwind { stages.append(.object([("$unwind", .string("$" + unwind))])) }
      stages.append(.object([("$group", .object([("_id", key), ("n", .object([("$sum", .int(1))]))]))]))
      return stages
    }
    func strings(_ field: String, unwind: Bool = false) throws -> [String: Int] {
      var out: [String: Int] = [:]
      for doc in try s.aggregate(MongoDocuments.unique, pipeline(.string("$" + field), unwind: unwind ? field : nil)) {
        if case .string(let value)? = doc["_id"] { out[value, default: 0] += Int(doc.int("n") ?? 0) }
      }
      return out
    }
    var c = SegmentCounts()
    c.categories = try strings("q.view_category")
    c.total = c.categories.values.reduce(0, +)
    guard c.total > 0 else { return c }
    c.countries = try strings("data.location.country")
    c.states = try strings("data.location.state")
    c.cities = try strings("data.location.city")
    c.genders = try strings("data.demographics.gender")
    c.education = try strings("data.demographics.education")
    c.incomes = try strings("data.demographics.income")
    c.interests = try strings("data.interests", unwind: true)
    for doc in try s.aggregate(MongoDocuments.unique, pipeline(.string("$data.demographics.age"))) {
      if let age = doc.int("_id") { c.ages[Int(age), default: 0] += Int(doc.int("n") ?? 0) }
    }
    if wantsIncome {
      let key: JSONValue = .object([("age", .string("$data.demographics.age")), ("income", .string("$data.demographics.income"))])
      for doc in try s.aggregate(MongoDocuments.unique, pipeline(key)) {
        guard let id = doc["_id"], let age = id.int("age"), let income = id.string("income") else { continue }
        c.ageIncome[SegmentCounts.AgeIncome(age: Int(age), income: income), default: 0] += Int(doc.int("n") ?? 0)
      }
    }
    return c
  }
}
