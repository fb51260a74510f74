/// Equal-width histograms computed exactly as NumPy's `np.histogram(values, bins=n)` (and so
/// seaborn's `histplot(bins=n)`): edges from `linspace(min, max, n + 1)`, every bin half-open
/// but the last, a single distinct value widened by 0.5 on each side.
public enum Histogram {
  /// - Parameters:
  ///   - counts: distinct values and how many times each occurs.
  ///   - bins: number of bins.
  public static func equalWidth(_ counts: [(value: Double, count: Int)], bins: Int) -> [HistogramBin] {
    let present = counts.filter { $0.count > 0 }
    guard bins > 0, let lo = present.map(\.value).min(), let hi = present.map(\.value).max() else { return [] }
    var first = lo, last = hi
    if first == last {
      first -= 0.5
      last += 0.5
    }
    let step = (last - first) / Double(bins)
    var edges = (0...bins).map { Double($0) * step + first }
    edges[bins] = last
    var result = (0..<bins).map { HistogramBin(from: edges[$0], to: edges[$0 + 1], count: 0) }
    let norm = Double(bins) / (last - first)
    for (value, count) in present {
      var i = Int((value - first) * norm)
      if i == bins { i -= 1 }
      if value < edges[i] { i -= 1 }
      if i != bins - 1, value >= edges[i + 1] { i += 1 }
      result[i].count += count
    }
    return result
  }
}
