import AudienceCore
internal import Glibc

/// Bar charts for a terminal, scaled to its width.
enum TerminalCharts {
  static func terminalWidth() -> Int {
    var w = winsize()
    if ioctl(1, UInt(TIOCGWINSZ), &w) == 0, w.ws_col > 20 { return Int(w.ws_col) }
    if let c = getenv("COLUMNS").flatMap({ Int(String(cString: $0)) }), c > 20 { return c }
    return 80
  }

  static func render(_ r: AudienceReport, width: Int) -> String {
    var out = ["\(r.total) users analyzed (\(r.withAge) with an age)", ""]
    func section(_ title: String, _ rows: [(String, Int)], limit: Int = 20) {
      out.append(title)
      if rows.isEmpty { out.append("  (none)"); out.append(""); return }
      let shown = Array(rows.prefix(limit))
      let labelWidth = min(24, shown.map { $0.0.count }.max() ?? 0)
      let maxCount = max(1, shown.map(\.1).max() ?? 1)
      let countWidth = String(maxCount).count
      let barSpace = max(10, width - labelWidth - countWidth - 6)
      for (label, count) in shown {
        let name = label.count > labelWidth ? String(label.prefix(labelWidth - 1)) + "…" : label
        let pad = String(repeating: " ", count: labelWidth - name.count)
        let eighths = Int((Double(count) / Double(maxCount) * Double(barSpace * 8)).rounded())
        var bar = String(repeating: "█", count: eighths / 8)
        if eighths % 8 > 0 { bar += ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"][eighths % 8] }
        out.append("  \(name)\(pad) \(bar) \(count)")
      }
      if rows.count > limit { out.append("  … \(rows.count - limit) more") }
      out.append("")
    }
    section("Users by country", r.countries.map { ($0.name, $0.count) })
    section("Age distribution", r.ageHistogram.map { (range($0), $0.count) }, limit: 1000)
    section("Users by gender", r.genders.map { ($0.name, $0.count) })
    section("Education", r.education.map { ($0.name, $0.count) })
    section("Income", r.incomeBands.filter { $0.count > 0 }.map { ($0.name, $0.count) })
    section("Top interests", r.interests.map { ($0.name, $0.count) })
    section("Interest categories", r.categories.map { ($0.name, $0.count) })
    if let km = r.kmeans {
      let unit = km.features.map(\.rawValue).joined(separator: ", ")
      section(
        "Clusters (k-means on standardized \(unit))",
        zip(km.centroids, km.sizes).map { c, n in ("centroid " + c.map { format($0) }.joined(separator: ", "), n) })
    }
    return out.joined(separator: "\n")
  }

  static func range(_ b: HistogramBin) -> String { "\(format(b.from))–\(format(b.to))" }

  static func format(_ x: Double) -> String {
    let r = (x * 10).rounded() / 10
    return r == r.rounded() ? String(Int(r)) : String(r)
  }
}
