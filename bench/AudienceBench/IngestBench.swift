import ArgumentParser
import AudienceClient
import AudienceCore
import AudienceWire
import Foundation

/// `audience-bench ingest`: the client library's binary ingest stream, timed. The JSON-lines file
/// is read and parsed into records before the clock starts, so the figure is the wire, the
/// server and durable commits, not JSON parsing.
struct IngestStreamBench: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "ingest", abstract: "Send a JSON-lines file's records on one ingest stream; print records/s.")
  @Option(help: "audienced's socket.") var socket: String
  @Option(help: "JSON-lines records (audience gen --format jsonl).") var file: String
  @Option(help: "Records per batch.") var batch = 1000
  @Option(help: "Batches in flight (0: the server's default).") var window = 0

  func run() async throws {
    let records = try rawRecords(jsonLines: file)
    let client = try await AudienceClient.connect(socketPath: socket)
    let clock = ContinuousClock()
    let started = clock.now
    let cpuStarted = processCPUSeconds()
    let stream = try await client.ingestStream(window: window)
    var accepted = 0
    var start = 0
    while start < records.count {
      let end = min(start + batch, records.count)
      for ack in try await stream.send(Array(records[start..<end])) { accepted += ack.summary.accepted }
      start = end
    }
    for ack in try await stream.finish() { accepted += ack.summary.accepted }
    let elapsed = clock.now - started
    let cpu = processCPUSeconds() - cpuStarted
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    await client.close()
    print(JSONValue.object([
      ("records", .int(Int64(records.count))), ("accepted", .int(Int64(accepted))), ("seconds", .double(seconds)),
      ("records_per_second", .double(Double(records.count) / seconds)), ("window", .int(Int64(stream.window))),
      ("client_cpu_seconds", .double(cpu)), ("client_cpu_us_per_record", .double(cpu * 1e6 / Double(records.count))),
    ]).serialized())
  }
}

