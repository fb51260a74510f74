import Foundation
import Testing

/// Every command has help, and its text reads as prose (no stray line-continuation artifacts).
@Suite("Help texts")
struct HelpTextTests {
  static let commands: [[String]] = [
    ["audience"], ["audience", "ingest"], ["audience", "user"], ["audience", "cohort"], ["audience", "watch"],
    ["audience", "analyze"], ["audience", "health"], ["audience", "gen"], ["audience", "export"],
    ["audience", "history"], ["audience", "forget"], ["audience", "split"], ["audienced"],
  ]

  @Test(arguments: commands)
  func helpIsThereAndReadsWell(_ command: [String]) throws {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: ServerProcess.binDirectory + "/" + command[0])
    p.arguments = Array(command.dropFirst()) + ["--help"]
    // Help is on standard output; a library's warning on standard error is not part of it.
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    #expect(!errors.contains("USAGE:"), "\(command): help went to standard error")
    #expect(p.terminationStatus == 0, "\(command)")
    #expect(text.contains("USAGE:"), "\(command)")
    // The prose between OVERVIEW and USAGE: wrapped by ArgumentParser, never a literal backslash
    // or a run of spaces left by a broken line continuation.
    guard let usage = text.range(of: "USAGE:") else { return }
    let prose = text[..<usage.lowerBound]
    #expect(!prose.contains("\\"), "\(command): \(prose)")
    #expect(prose.range(of: "[^ \n]   +[^ \n]", options: .regularExpression) == nil, "\(command): \(prose)")
  }

  /// Runs `program` (audience or audienced) on a socket nobody listens on, without input:
  /// its exit status and standard error.
  static func refusal(_ program: String, _ arguments: [String]) throws -> (status: Int32, errors: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: ServerProcess.binDirectory + "/" + program)
    p.arguments = arguments + (arguments.contains("--socket") ? [] : ["--socket", NSTemporaryDirectory() + "/never-\(UUID().uuidString).sock"])
    let err = Pipe()
    p.standardOutput = Pipe()
    p.standardError = err
    try p.run()
    let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    return (p.terminationStatus, errors)
  }

  /// A nice value out of range is refused before the server starts, naming the flag.
  @Test(arguments: ["--commit-nice", "--index-nice"])
  func outOfRangeNiceValuesAreRefused(_ flag: String) throws {
    let (status, errors) = try Self.refusal("audienced", [flag, "40"])
    #expect(status != 0)
    #expect(errors.contains("\(flag): 40 is not a nice value"), "\(errors)")
  }

  /// A negative number for a numeric option is refused by that option's own check, naming it;
  /// ArgumentParser read "-1" as an option and said "Missing value".
  @Test(arguments: [
    ["audience", "cohort", "--limit"], ["audience", "cohort", "--age-min"], ["audience", "analyze", "--top"],
    ["audience", "analyze", "--bins"], ["audience", "analyze", "--k"], ["audience", "gen", "--count"],
    ["audience", "ingest", "--batch-size"], ["audience", "ingest", "--window"], ["audience", "ingest", "--max-errors"],
    ["audience", "health", "--timeout"], ["audience", "watch", "--max-events"], ["audienced", "--max-in-flight"],
    ["audienced", "--idle-timeout"], ["audienced", "--max-identifiers-per-profile"], ["audienced", "--packed-view-cache"],
  ])
  func negativeNumbersAreRefusedByTheirOption(_ command: [String]) throws {
    let (status, errors) = try Self.refusal(command[0], Array(command.dropFirst()) + ["-1"])
    #expect(status == 64, "\(command): \(errors)")
    #expect(!errors.contains("Missing value"), "\(command): \(errors)")
    #expect(errors.contains(command.last!), "\(command): \(errors)")
  }

  /// An empty person, cursor or feature list is a usage error before any connection (the server's
  /// INVALID_ARGUMENT, exit 1, for a person; an empty cursor was the first page again, so a
  /// loop reading next_cursor never ended; empty features meant age).
  @Test(arguments: [
    ["forget", "--email", ""], ["export", "--cookie", " "], ["history", ""], ["user", ""], ["split", " "],
    ["cohort", "--cursor", ""], ["analyze", "--features", ""], ["cohort", "--cookie", ""], ["health", "--socket", ""],
  ])
  func anEmptyValueIsAUsageError(_ arguments: [String]) throws {
    let (status, errors) = try Self.refusal("audience", arguments)
    #expect(status == 64, "\(arguments): \(errors)")
    #expect(errors.contains("is empty"), "\(arguments): \(errors)")
  }
}
