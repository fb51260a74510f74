import AudienceClient
import AudienceCore
import AudienceWire
import Foundation
import NIOCore
import Testing

/// Live segments against the real server: events, cancellation, disconnects, shutdown, the CLI.
@Suite("Watch end to end", .serialized)
struct WatchEndToEndTests {
  typealias R = SegmentEndToEndTests

  static func raw(_ json: String) throws -> RawRecord { try RecordJSON.record(from: JSONValue(parsing: json)) }

  @Test func eventsFollowTheSegmentUntilCancelled() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let client = try await server.client()
    _ = try await client.ingest(R.people.map(Self.raw))

    let segment = client.watch(try FilterExpression.parse("interest:AI and age:..30"))
    var events = segment.events.makeAsyncIterator()
    #expect(try await events.next() == .started(total: 2))  // c2, c4

    // Enters: a new profile that matches.
    _ = try await client.ingest([try Self.raw(
      R.record("c7", "g@x.com", age: 27, gender: "Male", country: "USA", state: "Utah", income: "1", interests: ["AI"]))])
    guard case .enter(let id, let profile)? = try await events.next() else { Issue.record("no enter"); return }
    #expect(profile.cookie == "c7")
    // Not a change: a record that leaves membership as it was produces nothing; the next
    // event is the leave below.
    _ = try await client.ingest([try Self.raw(
      R.record("c1", "a@x.com", age: 26, gender: "Male", country: "USA", state: "Texas", income: "40000", interests: [],
               at: "2025-04-01T00:00:00"))])
    // Leaves: c7 grows older than the segment allows.
    _ = try await client.ingest([try Self.raw(
      R.record("c7", "g@x.com", age: 31, gender: "Male", country: "USA", state: "Utah", income: "1", interests: [],
               at: "2026-01-01T00:00:00"))])
    guard case .leave(let left, let now?, nil)? = try await events.next() else { Issue.record("no leave"); return }
    #expect(left == id)
    #expect(now.demographics.age == 31)

    #expect(try await segment.cancel() == true)
    #expect(try await events.next() == .ended)
    #expect(try await events.next() == nil)
    #expect(try await client.call(.cancel(requestID: segment.requestID)) == .cancel(found: false))
    await client.close()
    #expect(await server.stop() == 0)
  }

  /// A Cancel read in the same burst as its Watch finds it, though the watch is still being
  /// opened on its task: the watch starts and ends at once instead of running on unseen.
  @Test func aCancelRightBehindItsWatchEndsIt() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    for round in 0..<20 {
      let raw = try RawSocket(path: server.socketPath)
      try raw.hello()
      var burst = ByteBuffer()
      WireCodec.encode(WireRequest(id: 7, body: .watch(nil)), into: &burst)
      WireCodec.encode(WireRequest(id: 8, body: .cancel(requestID: 7)), into: &burst)
      raw.send(Array(burst.readableBytesView))
      var found: Bool?
      var watchEvents: [WatchEvent] = []
      while found == nil || watchEvents.last != .ended {
        let r = try #require(try raw.readResponse(), "round \(round): the server closed the connection")
        #expect(r.status.code == .ok, "round \(round): \(r.status)")
        switch r.body {
        case .cancel(let f)?: found = f
        case .watch(let e)?: watchEvents.append(e)
        default: Issue.record("round \(round): unexpected \(r)")
        }
        if found == false { break }
      }
      #expect(found == true, "round \(round): the cancel did not find its watch")
      #expect(watchEvents == [.started(total: 0), .ended], "round \(round)")
    }
    #expect(await server.stop() == 0)
  }

  /// A reader far behind a bulk load is not ended (it was, with RESOURCE_EXHAUSTED, once 10,000
  /// changes waited): as it catches up it is sent one change per profile that changed meanwhile,
  /// and it ends knowing the segment as it is. The reader reads nothing while 30,000 people
  /// enter, then 1,000 of the last 10,000 merge into others and 1,000 more leave; a last person
  /// enters after all.
  @Test func aWatchFarBehindABulkLoadCatchesUp() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let raw = try RawSocket(path: server.socketPath)
    let filter = try FilterExpression.parse("country:USA")
    let started = await onThread { () -> WireResponse? in
      try? raw.hello()
      raw.send(WireRequest(id: 7, body: .watch(filter)))
      return try? raw.readResponse()
    }
    #expect(started?.body == .watch(.started(total: 0)))
    let client = try await server.client()
    func person(_ i: Int, email: Int, country: String = "USA", day: Int = 1) -> RawRecord {
      RawRecord(cookie: "c\(i)", email: "e\(email)@x.com", createdAt: "2025-03-\(10 + day)T10:00:00", country: country)
    }
    let n = 30_000
    for first in stride(from: 0, to: n, by: 5_000) {
      _ = try await client.ingest((first..<first + 5_000).map { person($0, email: $0) })
    }
    // c(20000+2i+1) now says c(20000+2i)'s email: its profile merges into that one's.
    _ = try await client.ingest((0..<1_000).map { person(20_000 + 2 * $0 + 1, email: 20_000 + 2 * $0, day: 2) })
    _ = try await client.ingest((25_000..<26_000).map { person($0, email: $0, country: "Canada", day: 2) })
    _ = try await client.ingest([person(n, email: n, day: 3)])
    let expected = try await client.queryCohort(CohortQuery(filter: filter, countOnly: true)).total
    #expect(expected == n - 2_000 + 1)
    // The last person is the newest profile: drained last, in profile id order.
    let read = await onThread { () -> (members: Set<Int>, events: Int, error: String?) in
      var members = Set<Int>()
      var events = 0
      while true {
        guard let r = try? raw.readResponse() else { return (members, events, "the connection closed") }
        guard r.status.code == .ok else { return (members, events, "\(r.status)") }
        events += 1
        switch r.body {
        case .watch(.enter(let id, let profile))?:
          if !members.insert(id).inserted { return (members, events, "\(id) entered twice") }
          if profile.cookie == "c\(n)" { return (members, events, nil) }
        case .watch(.leave(let id, _, _))?, .watch(.forgotten(let id))?:
          if members.remove(id) == nil { return (members, events, "\(id) left without entering") }
        default:
          return (members, events, "unexpected \(r)")
        }
      }
    }
    #expect(read.error == nil)
    #expect(read.members.count == expected)
    // Fewer events than changes: profiles that entered and left unread were folded away (it
    // falls behind at 10,000 unread, long before the 20,000th person).
    #expect(read.events == expected)
    raw.send(WireRequest(id: 8, body: .cancel(requestID: 7)))
    let after = await onThread { () -> [WireResponse] in
      var out: [WireResponse] = []
      while out.count < 2, let r = try? raw.readResponse() { out.append(r) }
      return out
    }
    #expect(Set(after.compactMap(\.body)) == [.cancel(found: true), .watch(.ended)])
    await client.close()
    #expect(await server.stop() == 0)
  }

  /// Runs `audience watch` with its output to `stdout`, and returns once its watch is open, with
  /// a client of its own to write with.
  static func watchingCLI(_ arguments: [String], _ server: ServerProcess, stdout: FileHandle) async throws -> (Process, AudienceClient) {
    let watcher = try ScriptingTests.run(["watch", "--json"] + arguments, socket: server.socketPath, stdout: stdout)
    let client = try await server.client()
    for _ in 0..<500 where try await client.health().connections < 2 { try await Task.sleep(for: .milliseconds(10)) }
    try await Task.sleep(for: .milliseconds(300))  // connected: its Watch follows at once
    return (watcher, client)
  }

  /// `audience watch` whose output is not read stops reading the socket past 1,000 events, so
  /// the server holds them and folds them (the CLI kept every event in memory, and the server
  /// never fell behind): 60,000 people enter unread, then 1,000 of the last ones merge into
  /// others; the merged ones, never seen, send nothing.
  @Test func theCLIsWatchLeavesABacklogToTheServer() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let out = Pipe()
    let (watcher, client) = try await Self.watchingCLI([], server, stdout: out.fileHandleForWriting)
    defer { if watcher.isRunning { kill(watcher.processIdentifier, SIGKILL) } }
    func person(_ i: Int, email: Int, day: Int = 1) -> RawRecord {
      RawRecord(cookie: "c\(i)", email: "e\(email)@x.com", createdAt: "2025-03-\(10 + day)T10:00:00")
    }
    let n = 60_000
    for first in stride(from: 0, to: n, by: 5_000) {
      _ = try await client.ingest((first..<first + 5_000).map { person($0, email: $0) })
    }
    _ = try await client.ingest((0..<1_000).map { person(50_000 + 2 * $0 + 1, email: 50_000 + 2 * $0, day: 2) })
    _ = try await client.ingest([person(n, email: n, day: 3)])
    await client.close()
    let reader = out.fileHandleForReading
    let counts = await onThread { () -> (enters: Int, leaves: Int) in
      var text = Data()
      var enters = 0, leaves = 0
      while true {
        let more = reader.availableData
        if more.isEmpty { break }
        text.append(more)
        while let newline = text.firstIndex(of: 0x0A) {
          let line = String(decoding: text[text.startIndex..<newline], as: UTF8.self)
          text.removeSubrange(text.startIndex...newline)
          if line.contains(#""event":"enter""#) { enters += 1 }
          if line.contains(#""event":"leave""#) { leaves += 1 }
          if line.contains(#""cookie":"c\#(n)""#) { return (enters, leaves) }
        }
      }
      return (enters, leaves)
    }
    #expect(counts.leaves == 0, "the merges of profiles never sent were sent")
    #expect(counts.enters == n + 1 - 1_000)
    #expect(await server.stop() == 0)
  }

  /// `audience watch --max-events` whose output was blocked during a bulk load: once its output
  /// is read it cancels, and the events still coming while its Cancel waits for an answer are
  /// read, not counted toward the pause (counted, they paused the connection again, and the
  /// answer behind them never came: exit 4 at --idle-timeout).
  @Test func theCLIsWatchCancelsAfterItsOutputWasBlocked() async throws {
    let server = ServerProcess(arguments: ["--idle-timeout", "20"])
    try await server.start()
    defer { server.removeFiles() }
    let out = Pipe()
    // The pipe full before the CLI writes: its first line waits until the test reads.
    out.fileHandleForWriting.write(Data(repeating: 0x0A, count: 65_536))
    let (watcher, client) = try await Self.watchingCLI(["--max-events", "10"], server, stdout: out.fileHandleForWriting)
    try out.fileHandleForWriting.close()
    defer { if watcher.isRunning { kill(watcher.processIdentifier, SIGKILL) } }
    for first in stride(from: 0, to: 60_000, by: 5_000) {
      _ = try await client.ingest((first..<first + 5_000).map { RawRecord(cookie: "b\($0)") })
    }
    await client.close()
    let reader = out.fileHandleForReading
    let lines = await onThread { () -> Int in
      let all = reader.readDataToEndOfFile()  // until the CLI exits
      return String(decoding: all, as: UTF8.self).split(separator: "\n").count
    }
    while watcher.isRunning { try await Task.sleep(for: .milliseconds(20)) }
    #expect(watcher.terminationStatus == 0, "the watch's cancel did not come back")
    #expect(lines == 11)  // started, then 10 events
    #expect(await server.stop() == 0)
  }

  @Test func aConnectionHoldsAtMost16Watches() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let client = try await server.client()
    var open: [AsyncThrowingStream<WatchEvent, any Error>.AsyncIterator] = []
    for _ in 0..<16 {
      var events = client.watch(nil).events.makeAsyncIterator()
      #expect(try await events.next() == .started(total: 0))
      open.append(events)
    }
    var extra = client.watch(nil).events.makeAsyncIterator()
    await #expect {
      _ = try await extra.next()
    } throws: { error in
      (error as? WireStatus)?.code == .resourceExhausted
    }
    open.removeAll()
    await client.close()
    #expect(await server.stop() == 0)
  }

  @Test func aDisconnectedWatcherDoesNotHoldTheServer() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let watcher = try await server.client()
    let segment = watcher.watch(nil)
    var events = segment.events.makeAsyncIterator()
    #expect(try await events.next() == .started(total: 0))
    await watcher.close()
    let other = try await server.client()
    _ = try await other.ingest(R.people.map(Self.raw))
    // The watcher's connection closes once what was queued for it is written (or fails to be:
    // its peer is gone), which may take a moment on a loaded machine.
    var connections = try await other.health().connections
    for _ in 0..<50 where connections != 1 {
      try await Task.sleep(for: .milliseconds(100))
      connections = try await other.health().connections
    }
    #expect(connections == 1)
    await other.close()
    #expect(await server.stop() == 0)
  }

  @Test func shutdownEndsWatchesCleanly() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let client = try await server.client()
    let segment = client.watch(try FilterExpression.parse("country:USA"))
    var events = segment.events.makeAsyncIterator()
    #expect(try await events.next() == .started(total: 0))
    _ = try await client.ingest([try Self.raw(R.people[0])])
    guard case .enter? = try await events.next() else { Issue.record("no enter"); return }
    let stopped = Task { await server.stop() }
    #expect(try await events.next() == .ended)
    #expect(await stopped.value == 0)
  }

  /// A split profile leaves with its view before the split: a LEAVE without data says a merge,
  /// and the split was reported as "merged into #0", an unrelated person.
  @Test func aSplitProfileLeavesWithItsDataNotAsAMerge() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let client = try await server.client()
    _ = try await client.ingest([RawRecord(cookie: "someone-else", country: "France")])
    let segment = client.watch(try FilterExpression.parse("country:USA"))
    var events = segment.events.makeAsyncIterator()
    #expect(try await events.next() == .started(total: 0))
    _ = try await client.ingest([
      RawRecord(cookie: "wx1", email: "wx@x.com", country: "USA"), RawRecord(cookie: "wx2", email: "wx@x.com", country: "USA"),
    ])
    var entered: [ProfileID] = []
    while entered.count < 1 {
      guard case .enter(let id, _)? = try await events.next() else { continue }
      entered.append(id)
    }
    _ = try await client.split(cookie: "wx2")
    guard case .leave(let id, let data, let mergedInto)? = try await events.next() else {
      Issue.record("no leave"); return
    }
    #expect(id == entered[0])
    #expect(data?.location.country == "USA")
    #expect(mergedInto == nil)
    await client.close()
    #expect(await server.stop() == 0)
  }

  @Test func theCLIPrintsEventsAsJSONLines() async throws {
    let server = ServerProcess()
    try await server.start()
    defer { server.removeFiles() }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: ServerProcess.binDirectory + "/audience")
    p.arguments = ["--socket", server.socketPath, "watch", "--where", "country:canada", "--json", "--max-events", "2"]
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    try p.run()
    // Wait for the started line before writing, so the events are certain to follow it.
    var text = ""
    while !text.contains("\n") {
      let chunk = out.fileHandleForReading.availableData
      if chunk.isEmpty { break }
      text += String(decoding: chunk, as: UTF8.self)
    }
    #expect(text == #"{"event":"started","total":0}"# + "\n")
    let client = try await server.client()
    _ = try await client.ingest(R.people.map(Self.raw))  // c2, c3, c4 are in Canada
    text += String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    #expect(p.terminationStatus == 0)
    let lines = text.split(separator: "\n").map { try! JSONValue(parsing: String($0)) }
    #expect(lines.count == 3, "\(text)")
    #expect(lines.dropFirst().map { $0["event"] } == [.string("enter"), .string("enter")])
    #expect(lines.dropFirst().map { $0["data"]?["cookie"] } == [.string("c2"), .string("c3")])
    await client.close()
    #expect(await server.stop() == 0)
  }
}
