import AudienceCore
import Glibc

/// Monotonic nanoseconds.
func now() -> UInt64 {
  var ts = timespec()
  clock_gettime(CLOCK_MONOTONIC, &ts)
  return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Order statistics of samples, in the unit they were given in.
struct Stats {
  var sorted: [Double]
  init(_ samples: [Double]) { sorted = samples.sorted() }
  func quantile(_ q: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))] }
  var median: Double { quantile(0.5) }

  var json: JSONValue {
    .object([
      ("median", .double(median)), ("p90", .double(quantile(0.9))), ("p99", .double(quantile(0.99))),
      ("min", .double(sorted.first ?? 0)), ("samples", .int(Int64(sorted.count))),
    ])
  }
}

func emit(_ v: JSONValue) {
  print(v.serialized())
  fflush(nil)
}
