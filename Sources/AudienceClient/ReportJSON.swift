public import AudienceCore

/// Analyze results as JSON: `{"total", "countries": {name: n}, ..., "age_histogram": [...], "kmeans": {...}}`.
public enum ReportJSON {
  /// - Parameters:
  ///   - r: the report.
  public static func json(_ r: AudienceReport) -> JSONValue {
    func counts(_ xs: [NamedCount]) -> JSONValue { .object(xs.map { ($0.name, .int(Int64($0.count))) }) }
    var members: [(String, JSONValue)] = [
      ("total", .int(Int64(r.total))),
      ("countries", counts(r.countries)),
      ("states", counts(r.states)),
      ("cities", counts(r.cities)),
      ("genders", counts(r.genders)),
      ("education", counts(r.education)),
      ("income_bands", counts(r.incomeBands)),
      ("interests", counts(r.interests)),
      ("categories", counts(r.categories)),
      ("with_age", .int(Int64(r.withAge))),
      ("age_histogram", .array(r.ageHistogram.map {
        .object([("from", .double($0.from)), ("to", .double($0.to)), ("count", .int(Int64($0.count)))])
      })),
    ]
    if let km = r.kmeans {
      let oneFeature = km.features.count == 1
      members.append((
        "kmeans",
        .object([
          ("k", .int(Int64(km.centroids.count))),
          ("features", .array(km.features.map { .string($0.rawValue) })),
          ("centroids", .array(km.centroids.map { c in oneFeature ? .double(c[0]) : .array(c.map { .double($0) }) })),
          ("sizes", .array(km.sizes.map { .int(Int64($0)) })),
          ("inertia", .double(km.inertia)),
        ])
      ))
    } else {
      members.append(("kmeans", .null))
    }
    return .object(members)
  }
}
