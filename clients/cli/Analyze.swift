import ArgumentParser
import AudienceClient
import AudienceCore
internal import Glibc

/// `audience analyze`
struct Analyze: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Audience analytics over a segment: countries, ages, genders, interests, categories, age clusters.",
    discussion: """
      Computed by the server over the unique profiles matching the filters (the same flags as \
      `cohort`). Without --json: charts in the terminal. With --json:
      {"total", "countries": {name: n}, "genders", "education", "interests", "categories", \
      "age_histogram": [{"from", "to", "count"}], "kmeans": {"k", "centroids", "sizes"}, ...}. \
      With --html FILE: a self-contained report with an SVG chart for each figure.
      """)

  @OptionGroup var global: GlobalOptions
  @OptionGroup var scope: CookieScope
  @OptionGroup var filters: FilterOptions
  @Option(parsing: .unconditional, help: "States and cities listed.") var top: Int = 20
  @Option(parsing: .unconditional, help: "Age histogram bins.") var bins: Int = 20
  @Option(parsing: .unconditional, help: "k-means clusters.") var k: Int = 3
  @Option(help: "k-means features: age, income, or age,income (over profiles with an age and a numeric income).")
  var features: String = "age"
  @Flag(name: .customLong("no-kmeans"), help: "Skip k-means.") var noKMeans = false
  @Option(help: "Write a self-contained HTML report to this file.") var html: String?

  func validate() throws {
    guard (1...1000).contains(top) else { throw ValidationError("--top must be in 1...1000") }
    guard (1...1000).contains(bins) else { throw ValidationError("--bins must be in 1...1000") }
    guard (1...20).contains(k) else { throw ValidationError("--k must be in 1...20") }
    if let html, html.isEmpty { throw ValidationError("--html needs a file name") }
    _ = try parsedFeatures()
  }

  func parsedFeatures() throws -> [KMeansFeature] {
    if features.allSatisfy(\.isWhitespace) { throw ValidationError("--features is empty (age, income or age,income)") }
    return try features.split(separator: ",").map {
      guard let f = KMeansFeature(rawValue: $0.trimmingCharacters(in: " ").lowercased()) else {
        throw ValidationError("--features: \"\($0)\" is not age or income")
      }
      return f
    }
  }

  func run() async throws {
    let query = AnalyzeQuery(
      filter: try filters.filter(), cookie: scope.cookie, topN: top, ageBins: bins, k: noKMeans ? 0 : k,
      features: try parsedFeatures())
    // Checked before the server is asked: a path that cannot be written is the user's error,
    // said with the path and the reason (it came out as INTERNAL). Opened (and so emptied) only
    // once the report is there: a failure before (no server) leaves an earlier report whole.
    // Written in place, not renamed over: a symlink, a device, the file's mode and owner stay.
    if let html { try Self.checkWritable(html) }
    try await Output.withClient(global) { client in
      let report = try await client.analyze(query)
      if let html {
        let page = HTMLReport.render(report, subtitle: describeFilters())
        guard let file = fopen(html, "w") else { throw Output.cannotWrite(html) }
        let wrote = fputs(page, file) >= 0
        guard fclose(file) == 0, wrote else { throw Output.cannotWrite(html) }
        Output.stderr("wrote \(html)")
      }
      if global.json {
        Output.stdout(ReportJSON.json(report).serialized())
      } else if html == nil {
        Output.stdout(TerminalCharts.render(report, width: TerminalCharts.terminalWidth()))
      }
    }
  }

  /// Whether `path` can be written: the file if it exists, else its directory.
  static func checkWritable(_ path: String) throws {
    if access(path, F_OK) == 0 {
      guard access(path, W_OK) == 0 else { throw Output.cannotWrite(path) }
      var st = stat()
      if stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR { errno = EISDIR; throw Output.cannotWrite(path) }
      return
    }
    let slash = path.lastIndex(of: "/")
    let directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
    guard access(directory, W_OK) == 0 else { throw Output.cannotWrite(path) }
  }

  func describeFilters() -> String {
    var parts: [String] = []
    let f = filters
    if let e = f.expression { parts.append(e) }
    if let c = scope.cookie { parts.append("cookie \(c)") }
    if f.ageMin != nil || f.ageMax != nil { parts.append("age \(f.ageMin.map(String.init) ?? "")..\(f.ageMax.map(String.init) ?? "")") }
    for (name, value) in [("interests", f.interests), ("gender", f.gender), ("country", f.country), ("state", f.state),
                          ("city", f.city), ("education", f.education)] {
      if let value { parts.append("\(name) \(value)") }
    }
    if f.incomeMin != nil || f.incomeMax != nil { parts.append("income \(f.incomeMin.map(String.init) ?? "")..\(f.incomeMax.map(String.init) ?? "")") }
    return parts.isEmpty ? "all users" : parts.joined(separator: ", ")
  }
}

extension Substring {
  func trimmingCharacters(in _: String) -> String { String(self).trimmingCharacters() }
}

extension String {
  func trimmingCharacters() -> String {
    guard let first = firstIndex(where: { !$0.isWhitespace }) else { return "" }
    let last = lastIndex(where: { !$0.isWhitespace })!
    return String(self[first...last])
  }
}
