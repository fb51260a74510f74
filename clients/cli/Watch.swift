import ArgumentParser
import AudienceClient
import AudienceCore
import AudienceWire
internal import Glibc

/// `audience watch`
struct Watch: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Follow a live segment: print users as they enter or leave it.",
    discussion: """
      Prints the segment's current size, then one line per profile that enters (+) or leaves (-) \
      the segment because of new records, as they are committed, until interrupted or until \
      --max-events changes were printed. With --json, one JSON object per line: \
      {"event": "started", "total": N}, {"event": "enter", "profile_id": N, "data": {...}}, \
      {"event": "leave", "profile_id": N, "data": {...} or null, "merged_into": N or null}, \
      {"event": "forgotten", "profile_id": N} (the person was erased), \
      {"event": "ended"}. When the output is not read (a pipe to a slow consumer), the events \
      wait in the server, which folds them once far behind: one event per profile that \
      changed meanwhile, from what was printed to what is true then (docs/PROTOCOL.md); an \
      output not read at all for the server's --idle-timeout (300 s) ends the watch (exit 4). \
      The filter flags are those of `audience cohort` (without --cookie); \
      see docs/QUERY.md. Exits 0 after --max-events, 4 when the server ended the watch (it shut \
      down) or the connection broke.
      """)

  @OptionGroup var global: GlobalOptions
  @OptionGroup var filters: FilterOptions
  @Option(name: .customLong("max-events"), parsing: .unconditional, help: "Stop after this many events (enter, leave and forgotten).")
  var maxEvents: Int?

  func validate() throws {
    if let maxEvents, maxEvents < 1 { throw ValidationError("--max-events must be at least 1") }
  }

  func run() async throws {
    let filter = try filters.filter()
    try await Output.withClient(global) { client in
      // Past 1,000 events not yet written (standard output blocked), the connection stops
      // reading: the server holds them, and folds them when far behind (this process grew by
      // every event instead).
      let segment = client.watch(filter, pacedAt: 1_000)
      var changes = 0
      for try await event in segment.events {
        Output.line(global.json ? Self.json(event).serialized() : Self.human(event))
        if case .started = event { continue }
        // Not asked for (--max-events cancels without waiting for it): the server ended it.
        if case .ended = event { throw WireStatus(.unavailable, "the server ended the watch (it is shutting down)") }
        changes += 1
        if let maxEvents, changes >= maxEvents {
          try await segment.cancel()
          break
        }
      }
    }
  }

  static func json(_ event: WatchEvent) -> JSONValue {
    switch event {
    case .started(let total): return .object([("event", .string("started")), ("total", .int(Int64(total)))])
    case .enter(let id, let profile):
      return .object([("event", .string("enter")), ("profile_id", .int(Int64(id))), ("data", RecordJSON.data(profile))])
    case .leave(let id, let profile, let into):
      return .object([
        ("event", .string("leave")), ("profile_id", .int(Int64(id))), ("data", profile.map(RecordJSON.data) ?? .null),
        ("merged_into", .from(into)),
      ])
    case .ended: return .object([("event", .string("ended"))])
    case .forgotten(let id): return .object([("event", .string("forgotten")), ("profile_id", .int(Int64(id)))])
    }
  }

  static func human(_ event: WatchEvent) -> String {
    func describe(_ u: Record) -> String {
      let age = u.demographics.age.map(String.init) ?? "?"
      return "\(u.cookie)  \(u.email ?? "-")  age \(age)  \(u.demographics.gender ?? "-")  \(Human.place(u))"
    }
    switch event {
    case .started(let total): return "watching: \(total) user(s) in the segment now"
    case .enter(let id, let profile): return "+ #\(id)  \(describe(profile))"
    case .leave(let id, let profile?, _): return "- #\(id)  \(describe(profile))"
    case .leave(let id, nil, let into): return "- #\(id)  merged into #\(into.map(String.init) ?? "?")"
    case .ended: return "watch ended"
    case .forgotten(let id): return "- #\(id)  erased (audience forget)"
    }
  }
}
