/// Weighted k-means: in one dimension the exact optimum; in more, Lloyd's algorithm with
/// k-means++ seeding, deterministic for a seed.
///
/// Points are distinct feature vectors with weights (how many users share them), so clustering
/// a million users' ages costs as much as clustering the ~100 distinct ages.
public struct KMeans: Sendable {
  public var k: Int
  public var seed: UInt64
  public var restarts: Int
  public var maxIterations: Int

  /// - Parameters:
  ///   - k: clusters.
  ///   - seed: random seed (default 42).
  ///   - restarts: independent seedings; the lowest inertia wins (default 10).
  ///   - maxIterations: Lloyd iterations per run (default 300).
  public init(k: Int, seed: UInt64 = 42, restarts: Int = 10, maxIterations: Int = 300) {
    self.k = k
    self.seed = seed
    self.restarts = restarts
    self.maxIterations = maxIterations
  }

  public struct Fit: Sendable {
    /// k × dimension, row-major.
    public var centroids: [[Double]]
    /// Cluster of each point.
    public var labels: [Int]
    /// Weighted sum of squared distances.
    public var inertia: Double
  }

  /// Clusters `points` (each of the same dimension) weighted by `weights`. In one dimension the
  /// answer is the optimum (`optimal1D`); in more, the best of `restarts` seedings.
  /// - Parameters:
  ///   - points: distinct points.
  ///   - weights: positive weights, one per point.
  public func fit(_ points: [[Double]], weights: [Double]) -> Fit {
    let k = min(self.k, points.count)
    guard k > 0 else { return Fit(centroids: [], labels: [], inertia: 0) }
    if points[0].count == 1 { return Self.optimal1D(points.map { $0[0] }, weights, k: k) }
    var rng = SplitMix64(seed: seed)
    var best: Fit?
    for _ in 0..<max(1, restarts) {
      var centroids = seedPlusPlus(points, weights, k, &rng)
      var labels = [Int](repeating: -1, count: points.count)
      var inertia = 0.0
      for _ in 0..<maxIterations {
        var changed = false
        inertia = 0
        for (i, p) in points.enumerated() {
          var bestJ = 0
          var bestD = Double.infinity
          for (j, c) in centroids.enumerated() {
            let d = Self.distance(p, c)
            if d < bestD { bestD = d; bestJ = j }
          }
          if labels[i] != bestJ { labels[i] = bestJ; changed = true }
          inertia += weights[i] * bestD
        }
        if !changed { break }
        var sums = [[Double]](repeating: [Double](repeating: 0, count: points[0].count), count: k)
        var mass = [Double](repeating: 0, count: k)
        for (i, p) in points.enumerated() {
          mass[labels[i]] += weights[i]
          for d in p.indices { sums[labels[i]][d] += weights[i] * p[d] }
        }
        for j in 0..<k where mass[j] > 0 { centroids[j] = sums[j].map { $0 / mass[j] } }
      }
      if best == nil || inertia < best!.inertia - 1e-12 { best = Fit(centroids: centroids, labels: labels, inertia: inertia) }
    }
    return best!
  }

  /// The clustering of least inertia in one dimension. Its clusters are runs of neighbouring
  /// values, so the best split of the sorted values into `k` runs is found by dynamic programming
  /// over the runs' ends, each level by divide and conquer (the best start of the last run does
  /// not move left as its end moves right): O(k n log n). Lloyd's algorithm from any seeding
  /// can stop in a local minimum (scikit-learn's single seeding did, on 11 ages).
  /// - Parameters:
  ///   - values: the points.
  ///   - weights: positive weights, one per point.
  ///   - k: clusters, at most the number of points.
  static func optimal1D(_ values: [Double], _ weights: [Double], k: Int) -> Fit {
    let order = values.indices.sorted { values[$0] < values[$1] }
    let x = order.map { values[$0] }, w = order.map { weights[$0] }
    let n = x.count
    // Prefix sums of weight, weighted value and weighted square, centred for accuracy.
    let centre = zip(x, w).reduce(0) { $0 + $1.0 * $1.1 } / w.reduce(0, +)
    var sw = [Double](repeating: 0, count: n + 1), sx = sw, sq = sw
    for i in 0..<n {
      let d = x[i] - centre
      sw[i + 1] = sw[i] + w[i]
      sx[i + 1] = sx[i] + w[i] * d
      sq[i + 1] = sq[i] + w[i] * d * d
    }
    /// The inertia of points a..<b as one cluster.
    func cost(_ a: Int, _ b: Int) -> Double {
      let m = sw[b] - sw[a], s = sx[b] - sx[a]
      return Swift.max(0, (sq[b] - sq[a]) - s * s / m)
    }
    // previous[b], current[b]: least inertia of points 0..<b in m and m+1 runs (two rows, not k:
    // a million distinct incomes and k 20 would hold 160 MB); start[m][b]: where the last begins.
    var previous = [Double](repeating: .infinity, count: n + 1)
    var current = previous
    var start = [[Int]](repeating: [Int](repeating: 0, count: n + 1), count: k)
    for b in 1...n { current[b] = cost(0, b) }
    for m in 1..<k {
      swap(&previous, &current)
      // Ends b in lo...hi, their last run starting in from...to.
      func solve(_ lo: Int, _ hi: Int, _ from: Int, _ to: Int) {
        guard lo <= hi else { return }
        let b = (lo + hi) / 2
        var bestCost = Double.infinity, bestA = Swift.max(from, m)
        for a in Swift.max(from, m)...Swift.min(to, b - 1) {
          let c = previous[a] + cost(a, b)
          if c < bestCost { bestCost = c; bestA = a }
        }
        current[b] = bestCost
        start[m][b] = bestA
        solve(lo, b - 1, from, bestA)
        solve(b + 1, hi, bestA, to)
      }
      solve(m + 1, n, m, n - 1)
    }
    var labels = [Int](repeating: 0, count: n)
    var centroids = [[Double]](repeating: [0], count: k)
    var end = n
    for m in stride(from: k - 1, through: 0, by: -1) {
      let begin = m == 0 ? 0 : start[m][end]
      let mass = sw[end] - sw[begin]
      centroids[m] = [(x[begin..<end].indices.reduce(0) { $0 + w[$1] * x[$1] }) / mass]
      for i in begin..<end { labels[order[i]] = m }
      end = begin
    }
    var inertia = 0.0
    for i in 0..<n { let d = x[i] - centroids[labels[order[i]]][0]; inertia += w[i] * d * d }
    return Fit(centroids: centroids, labels: labels, inertia: inertia)
  }

  private func seedPlusPlus(_ points: [[Double]], _ weights: [Double], _ k: Int, _ rng: inout SplitMix64) -> [[Double]] {
    var centroids = [points[rng.pick(weights)]]
    var nearest = points.map { Self.distance($0, centroids[0]) }
    while centroids.count < k {
      let w = zip(weights, nearest).map { $0 * $1 }
      let next = w.reduce(0, +) > 0 ? rng.pick(w) : rng.pick(weights)
      centroids.append(points[next])
      for i in points.indices { nearest[i] = min(nearest[i], Self.distance(points[i], points[next])) }
    }
    return centroids
  }

  static func distance(_ a: [Double], _ b: [Double]) -> Double {
    var s = 0.0
    for i in a.indices { let d = a[i] - b[i]; s += d * d }
    return s
  }
}

/// A small, fast, seedable generator (Vigna's SplitMix64).
public struct SplitMix64: RandomNumberGenerator, Sendable {
  var state: UInt64

  /// - Parameters:
  ///   - seed: the seed.
  public init(seed: UInt64) { state = seed }

  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// An index drawn with probability proportional to its weight.
  mutating func pick(_ weights: [Double]) -> Int {
    let total = weights.reduce(0, +)
    var target = Double(next() >> 11) / Double(1 << 53) * total
    for (i, w) in weights.enumerated() {
      target -= w
      if target < 0 && w > 0 { return i }
    }
    return weights.lastIndex { $0 > 0 } ?? 0
  }
}
