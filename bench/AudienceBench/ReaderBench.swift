import ArgumentParser
import AudienceCore
import AudienceWire
import NIOCore

/// The client's side of a fetch alone: one page of Q2 (10,000 users) received once, then read
/// lazily (every cookie) and decoded into `Record`s many times in this process, no socket.
struct ReaderBench: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "reader", abstract: "Time reading one 10,000-user page: lazily (every cookie) and decoded into Records.")
  @Option(help: "audienced's socket.") var socket: String
  @Option(help: "Timed reads of each kind.") var runs = 100

  func run() throws {
    let s = try Wire.connect(socket)
    try s.writeAll(Wire.frame(WireRequest(id: 1, body: .queryCohort(CohortQuery(filter: Segments.all[1].1, limit: CohortQuery.maxLimit)))))
    let payload = try s.readFrameBuffer()
    var lazy: [Double] = [], decoded: [Double] = []
    var users = 0
    for _ in 0..<runs {
      var t = now()
      guard let page = try LazyCohortPage(payload) else { throw BenchError("not a page") }
      var bytes = 0
      for user in page.users { bytes &+= user.cookie.utf8.count }
      lazy.append(Double(now() - t) / 1e3)
      users = page.users.count
      precondition(bytes > 0)
      t = now()
      guard case .queryCohort(let p)? = try WireCodec.decodeResponse(payload).body, p.users.count == users else {
        throw BenchError("not a page")
      }
      decoded.append(Double(now() - t) / 1e3)
    }
    emit(.object([
      ("figure", .string("reader")), ("users", .int(Int64(users))), ("bytes", .int(Int64(payload.readableBytes))),
      ("lazy_us", Stats(lazy).json), ("decoded_us", Stats(decoded).json),
    ]))
  }
}
