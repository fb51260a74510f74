import AudienceCore

/// A self-contained HTML report (no network): one SVG chart per figure of the original notebook.
enum HTMLReport {
  static func render(_ r: AudienceReport, subtitle: String) -> String {
    var charts: [String] = []
    charts.append(
      SVGChart.verticalBars(
        title: "User Distribution by Country", xLabel: "Country", yLabel: "User Count",
        items: r.countries.prefix(40).map { ($0.name, $0.count) }, palette: SVGChart.viridis))
    charts.append(
      SVGChart.histogram(
        title: "Age Distribution of Users", xLabel: "Age", yLabel: "Count",
        bins: r.ageHistogram.map { ($0.from, $0.to, $0.count) }, color: "#1f77b4"))
    charts.append(
      SVGChart.horizontalBars(
        title: "User Distribution by Gender", xLabel: "count", yLabel: "data.demographics.gender",
        items: r.genders.map { ($0.name, $0.count) }, palette: SVGChart.coolwarm))
    charts.append(
      SVGChart.horizontalBars(
        title: "Top User Interests", xLabel: "User Count", yLabel: "Interests",
        items: r.interests.prefix(25).map { ($0.name, $0.count) }, palette: SVGChart.magma))
    charts.append(
      SVGChart.horizontalBars(
        title: "User Cohort Distribution by Interests", xLabel: "User Count", yLabel: "Cohort",
        items: r.categories.sorted { $0.count > $1.count }.map { ($0.name, $0.count) }, palette: SVGChart.viridis))
    if let km = r.kmeans, km.features == [.age] {
      charts.append(
        SVGChart.clusterScatter(
          title: "User Clusters Based on Age", points: km.ageClusters.map { ($0.age, $0.cluster, $0.count) },
          k: km.centroids.count))
    }
    charts.append(
      SVGChart.horizontalBars(
        title: "Users by Education", xLabel: "User Count", yLabel: "Education",
        items: r.education.map { ($0.name, $0.count) }, palette: SVGChart.set2))
    charts.append(
      SVGChart.horizontalBars(
        title: "Users by Income", xLabel: "User Count", yLabel: "Income",
        items: r.incomeBands.filter { $0.count > 0 }.map { ($0.name, $0.count) }, palette: SVGChart.viridis))
    var clusterRows = ""
    if let km = r.kmeans {
      for (i, (c, n)) in zip(km.centroids, km.sizes).enumerated() {
        clusterRows += "<tr><td>\(i)</td><td>\(c.map { TerminalCharts.format($0) }.joined(separator: ", "))</td><td>\(n)</td></tr>"
      }
    }
    let clusterTable = clusterRows.isEmpty ? "" : """
      <table><caption>k-means on standardized \(r.kmeans!.features.map(\.rawValue).joined(separator: ", "))</caption>
      <tr><th>cluster</th><th>centroid</th><th>users</th></tr>\(clusterRows)</table>
      """
    return """
      <!doctype html>
      <html lang="en"><head><meta charset="utf-8"><title>Audience report</title>
      <style>
      body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; margin: 24px auto; max-width: 940px; color: #222; }
      h1 { font-size: 22px; margin-bottom: 4px; } p.sub { color: #555; margin-top: 0; }
      .chart { margin: 18px 0; border: 1px solid #e5e5e5; }
      svg .title { font-size: 16px; font-weight: bold; } svg .tick, svg .value { font-size: 11px; fill: #333; }
      svg .label { font-size: 13px; } svg .grid { stroke: #e8e8e8; } svg .axis { stroke: #333; }
      table { border-collapse: collapse; margin: 12px 0; } td, th { border: 1px solid #ddd; padding: 4px 10px; text-align: right; }
      caption { text-align: left; font-weight: bold; margin-bottom: 4px; white-space: nowrap; }
      </style></head><body>
      <h1>Audience report</h1>
      <p class="sub">\(r.total) users (\(SVGChart.escape(subtitle))), \(r.withAge) with an age.</p>
      \(clusterTable)
      \(charts.map { "<div class=\"chart\">\($0)</div>" }.joined(separator: "\n"))
      </body></html>
      """
  }
}
