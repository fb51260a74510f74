import AudienceCore
import Foundation
import Testing

/// `audience analyze` against the real audienced: JSON, the HTML report, replaced categories.
@Suite("Analyze end to end", .serialized)
struct AnalyzeEndToEndTests {
  static let people = [
    #"{"cookie": "a", "email": "a@x.com", "location": {"country": "USA"}, "demographics": {"age": 22, "gender": "Female", "income": "30000"}, "interests": ["Gaming", "AI"]}"#,
    #"{"cookie": "b", "email": "b@x.com", "location": {"country": "USA"}, "demographics": {"age": 24, "gender": "Male", "income": "High"}, "interests": ["gaming"]}"#,
    #"{"cookie": "c", "email": "c@x.com", "location": {"country": "India"}, "demographics": {"age": 41, "gender": "Female"}, "interests": ["Cricket", "Crypto"]}"#,
    #"{"cookie": "d", "email": "d@x.com", "location": {"country": "Canada"}, "demographics": {"age": 60}, "interests": ["Knitting"]}"#,
    #"{"cookie": "e", "email": "a@x.com", "location": {"country": "USA"}, "demographics": {"age": 23}, "interests": ["Gaming"]}"#,
  ].joined(separator: "\n")

  static func counts(_ v: JSONValue?) -> [String: Int64] {
    guard case .object(let members)? = v else { return [:] }
    var out: [String: Int64] = [:]
    for (k, x) in members { if case .int(let n) = x { out[k] = n } }
    return out
  }

  @Test func jsonHasEveryFigure() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    #expect(try CLI.run(["ingest", "-", "--json"], socket: server.socketPath, stdin: Self.people).status == 0)

    let all = try CLI.json(try CLI.run(["analyze", "--json", "--bins", "4"], socket: server.socketPath))
    // a and e share an email: four people.
    #expect(all["total"] == .int(4))
    #expect(Self.counts(all["countries"]) == ["USA": 2, "India": 1, "Canada": 1])
    #expect(Self.counts(all["genders"]) == ["Female": 2, "Male": 1])
    #expect(Self.counts(all["interests"]) == ["Gaming": 2, "AI": 1, "Cricket": 1, "Crypto": 1, "Knitting": 1])
    // Gaming is in no category: b (gaming) and d (Knitting) are Other; a has AI (Tech).
    #expect(Self.counts(all["categories"]) == ["Sports": 1, "Tech": 1, "Movies": 0, "Finance": 0, "Other": 2])
    #expect(Self.counts(all["income_bands"])["25k-50k"] == 1)
    #expect(Self.counts(all["income_bands"])["High"] == 1)
    #expect(Self.counts(all["income_bands"])["Unknown"] == 2)
    guard case .array(let bins)? = all["age_histogram"] else { Issue.record("no age_histogram"); return }
    #expect(bins.count == 4)
    #expect(bins.first?["from"] == .double(23))  // the a/e person's latest age is e's 23
    #expect(bins.last?["to"] == .double(60))
    #expect(all["kmeans"]?["k"] == .int(3))

    let usa = try CLI.json(try CLI.run(["analyze", "--country", "usa", "--no-kmeans", "--json"], socket: server.socketPath))
    #expect(usa["total"] == .int(2))
    #expect(usa["kmeans"] == .null)

    let bad = try CLI.run(["analyze", "--bins", "0", "--json"], socket: server.socketPath)
    #expect(bad.status != 0)
    #expect(bad.stderr.contains("--bins"))
    #expect(await server.stop() == 0)
  }

  @Test func htmlReportIsSelfContained() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    #expect(try CLI.run(["ingest", "-"], socket: server.socketPath, stdin: Self.people).status == 0)
    let path = server.directory + "/report.html"
    let run = try CLI.run(["analyze", "--html", path], socket: server.socketPath)
    #expect(run.status == 0, "\(run.stderr)")
    let html = try String(contentsOfFile: path, encoding: .utf8)
    for title in ["User Distribution by Country", "Age Distribution of Users", "Top User Interests", "User Clusters Based on Age"] {
      #expect(html.contains(title))
    }
    #expect(html.components(separatedBy: "<svg").count - 1 >= 6)
    #expect(!html.contains("<script"))
    #expect(!html.contains("src=\"http"))
    #expect(!html.contains("href=\"http"))
    #expect(await server.stop() == 0)
  }

  @Test func categoriesCanBeReplaced() async throws {
    let dir = "/tmp/aud-cat-" + String(UUID().uuidString.prefix(8))
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let file = dir + "/categories.json"
    try #"{"order": ["Crafts", "Games"], "categories": {"Games": ["gaming"], "Crafts": ["knitting", "gaming"]}, "fallback": "Rest"}"#
      .write(toFile: file, atomically: true, encoding: .utf8)
    let server = ServerProcess(arguments: ["--categories", file])
    try await server.start()
    defer { server.removeFiles() }
    #expect(try CLI.run(["ingest", "-"], socket: server.socketPath, stdin: Self.people).status == 0)
    let r = try CLI.json(try CLI.run(["analyze", "--json"], socket: server.socketPath))
    #expect(Self.counts(r["categories"]) == ["Crafts": 3, "Games": 0, "Rest": 1])
    #expect(await server.stop() == 0)

    try "{\"categories\": [1]}".write(toFile: file, atomically: true, encoding: .utf8)
    let broken = Process()
    broken.executableURL = URL(fileURLWithPath: ServerProcess.binDirectory + "/audienced")
    broken.arguments = ["--socket", dir + "/b.sock", "--data-dir", dir + "/data", "--categories", file]
    let err = Pipe()
    broken.standardError = err
    broken.standardOutput = err
    try broken.run()
    let output = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    broken.waitUntilExit()
    #expect(broken.terminationStatus != 0)
    #expect(output.contains("--categories"), "\(output)")
    #expect(!FileManager.default.fileExists(atPath: dir + "/b.sock"))
  }
}
