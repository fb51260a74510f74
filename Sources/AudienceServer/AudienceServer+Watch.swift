import AudienceCore
import AudienceWire
import Logging
import NIOCore

extension AudienceServer {
  /// Serves one Watch request: STARTED with the segment's size, one ENTER or LEAVE per
  /// change, then ENDED when it is cancelled, the connection drains, or the store closes.
  /// Every event carries the watch request's id. A watch that cannot keep up, or cannot be
  /// opened, ends with an error status instead.
  /// - Parameters:
  ///   - reserved: what `ConnectionContext.reserveWatch` answered on the reading thread.
  func runWatch(
    _ id: UInt64, _ filter: Filter?, reserved: ConnectionContext.ReserveWatch, _ context: ConnectionContext,
    _ writer: ResponseWriter, _ logger: Logger
  ) async {
    func send(_ response: WireResponse) async -> Bool { await writer.write(response) }
    switch reserved {
    case .reserved:
      break
    case .duplicateID:
      _ = await send(WireResponse(id: id, status: WireStatus(.invalidArgument, "request id \(id) is already a watch on this connection")))
      return
    case .tooMany:
      let status = WireStatus(
        .resourceExhausted, "too many watches on this connection (limit \(configuration.maxWatchesPerConnection))")
      _ = await send(WireResponse(id: id, status: status))
      return
    }
    // The place goes before the last response: a client may reuse the id once it has read it.
    defer { context.removeWatch(id) }
    let watch: SegmentWatch
    do {
      watch = try await router.watch(filter)
    } catch {
      let status = (error as? AudienceError).map(WireStatus.init) ?? WireStatus(.internal, "\(error)")
      context.removeWatch(id)
      _ = await send(WireResponse(id: id, status: status))
      return
    }
    defer { watch.stop() }
    // Cancelled while it was opening: it starts and ends at once.
    if !context.attachWatch(id, watch) { watch.stop() }
    logger.debug("watch started", metadata: ["audience.request": "\(id)", "audience.total": "\(watch.total)"])
    guard await send(WireResponse(id: id, body: .watch(.started(total: watch.total)))) else { return }
    do {
      for try await change in watch.changes {
        guard await send(WireResponse(id: id, body: .watch(WatchEvent(change)))) else { return }
      }
      context.removeWatch(id)
      _ = await send(WireResponse(id: id, body: .watch(.ended)))
    } catch {
      context.removeWatch(id)
      let status = (error as? AudienceError).map(WireStatus.init) ?? WireStatus(.internal, "\(error)")
      _ = await send(WireResponse(id: id, status: status))
    }
    logger.debug("watch ended", metadata: ["audience.request": "\(id)"])
  }
}
