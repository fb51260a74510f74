import AudienceCore
import Foundation
import Glibc

/// Monotonic nanoseconds.
func now() -> UInt64 {
  var ts = timespec()
  clock_gettime(CLOCK_MONOTONIC, &ts)
  return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// User and system CPU time of this process so far (all threads).
func processCPUSeconds() -> Double {
  var usage = rusage()
  getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
  func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
  return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// The records of a JSON-lines file (`audience gen --format jsonl`), as sent; empty lines skipped.
func rawRecords(jsonLines file: String) throws -> [RawRecord] {
  let text = try String(contentsOfFile: file, encoding: .utf8)
  var records: [RawRecord] = []
  for line in text.split(separator: "\n") where !line.isEmpty {
    records.append(try RecordJSON.record(from: JSONValue(parsing: String(line))))
  }
  return records
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
