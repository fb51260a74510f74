/// A feature k-means clusters on.
public enum KMeansFeature: String, Hashable, Sendable, CaseIterable {
  case age, income
}

/// What Analyze computes, over which users.
public struct AnalyzeQuery: Hashable, Sendable {
  /// Nil: every profile.
  public var filter: Filter?
  /// Set: the cookie's email cohort (latest record per cookie), as QueryCohort's route.
  public var cookie: String?
  /// Most states and cities listed (countries, genders, education and interests are complete).
  public var topN: Int
  /// Equal-width age bins over the observed range.
  public var ageBins: Int
  /// Clusters; 0 skips k-means.
  public var k: Int
  /// Standardized features k-means runs on.
  public var features: [KMeansFeature]

  /// - Parameters:
  ///   - filter: which profiles.
  ///   - cookie: scope to a cookie's email cohort.
  ///   - topN: states and cities listed (default 20).
  ///   - ageBins: histogram bins (default 20).
  ///   - k: clusters (default 3).
  ///   - features: k-means features (default age).
  public init(
    filter: Filter? = nil, cookie: String? = nil, topN: Int = 20, ageBins: Int = 20, k: Int = 3,
    features: [KMeansFeature] = [.age]
  ) {
    self.filter = filter
    self.cookie = cookie
    self.topN = topN
    self.ageBins = ageBins
    self.k = k
    self.features = features
  }

  /// Checks the bounds: topN 1...1000, ageBins 1...1000, k 0...20, features non-empty and distinct.
  public func validate() throws(AudienceError) {
    guard (1...1000).contains(topN) else { throw .invalidField("top_n", "\(topN) is outside 1...1000") }
    guard (1...1000).contains(ageBins) else { throw .invalidField("age_bins", "\(ageBins) is outside 1...1000") }
    guard (0...20).contains(k) else { throw .invalidField("k", "\(k) is outside 0...20") }
    guard !features.isEmpty, Set(features).count == features.count else {
      throw .invalidField("features", "must name age and/or income, each once")
    }
  }
}

/// A value and how many users have it.
public struct NamedCount: Hashable, Sendable {
  public var name: String
  public var count: Int

  /// - Parameters:
  ///   - name: the value.
  ///   - count: users with it.
  public init(_ name: String, _ count: Int) {
    self.name = name
    self.count = count
  }
}

/// One histogram bin: `[from, to)`, the last one closed.
public struct HistogramBin: Hashable, Sendable {
  public var from: Double
  public var to: Double
  public var count: Int

  /// - Parameters:
  ///   - from: lower edge.
  ///   - to: upper edge.
  ///   - count: values in the bin.
  public init(from: Double, to: Double, count: Int) {
    self.from = from
    self.to = to
    self.count = count
  }
}

/// k-means clusters, ordered by their first feature's centroid.
public struct KMeansSummary: Hashable, Sendable {
  public var features: [KMeansFeature]
  /// One per cluster, in the features' units (years, income).
  public var centroids: [[Double]]
  public var sizes: [Int]
  /// Sum of squared distances in standardized units.
  public var inertia: Double
  /// For age-only clustering: each distinct age, its cluster and how many users have it.
  public var ageClusters: [AgeCluster]

  /// A distinct age and the cluster it belongs to.
  public struct AgeCluster: Hashable, Sendable {
    public var age: Int
    public var cluster: Int
    public var count: Int

    /// - Parameters:
    ///   - age: years.
    ///   - cluster: index into centroids.
    ///   - count: users of that age.
    public init(age: Int, cluster: Int, count: Int) {
      self.age = age
      self.cluster = cluster
      self.count = count
    }
  }

  /// - Parameters: the clustering's results.
  public init(features: [KMeansFeature], centroids: [[Double]], sizes: [Int], inertia: Double, ageClusters: [AgeCluster]) {
    self.features = features
    self.centroids = centroids
    self.sizes = sizes
    self.inertia = inertia
    self.ageClusters = ageClusters
  }
}

/// Audience analytics over a segment: the original notebook's figures.
public struct AudienceReport: Hashable, Sendable {
  public var total: Int
  /// Sorted by count (descending), then name.
  public var countries: [NamedCount] = []
  public var states: [NamedCount] = []
  public var cities: [NamedCount] = []
  public var genders: [NamedCount] = []
  public var education: [NamedCount] = []
  /// Numeric bands in order, then labels by count, then "Unknown".
  public var incomeBands: [NamedCount] = []
  /// Each user counts an interest once; case-insensitive, shown in the most common spelling.
  public var interests: [NamedCount] = []
  /// In the categories' order, "Other" last.
  public var categories: [NamedCount] = []
  public var ageHistogram: [HistogramBin] = []
  /// Users with an age.
  public var withAge: Int = 0
  public var kmeans: KMeansSummary?

  /// - Parameters:
  ///   - total: users analyzed.
  public init(total: Int) { self.total = total }
}
