@testable import AudienceCore

/// Builds stored records for graph tests.
enum Fixture {
  static func time(_ day: Int, _ minute: Int = 0) -> Timestamp {
    Timestamp(seconds: Timestamp(year: 2025, month: 3, day: day, hour: 12)!.seconds + Int64(minute) * 60)
  }

  static func record(
    _ cookie: String, _ email: String? = nil, day: Int = 1, minute: Int = 0, age: Int? = nil, gender: String? = nil,
    country: String? = nil, city: String? = nil, income: String? = nil, interests: [String] = []
  ) -> Record {
    Record(
      cookie: cookie, email: email, createdAt: time(day, minute),
      location: Location(country: country, city: city),
      demographics: Demographics(age: age, gender: gender, income: income), interests: interests)
  }

  /// Applies records with seq = 1, 2, 3... and returns the outcomes.
  @discardableResult
  static func apply(_ records: [Record], to graph: inout IdentityGraph) -> [IngestOutcome] {
    records.map { r in
      graph.apply(StoredRecord(seq: graph.lastSeq + 1, contentID: ContentID(of: r), record: r))
    }
  }

  static func graph(_ records: [Record]) -> IdentityGraph {
    var g = IdentityGraph()
    apply(records, to: &g)
    return g
  }
}
