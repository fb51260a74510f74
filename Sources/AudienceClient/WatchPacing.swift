import AudienceWire
import NIOCore
import Synchronization

/// Backpressure for a watch whose events are read slowly (`AudienceClient.watch(_:pacedAt:)`):
/// past `limit` events received and not yet taken, the connection stops reading, so that the
/// server holds the rest (and, far behind, folds them: docs/PROTOCOL.md); below half of it, it
/// reads again. Nothing else on the connection is read meanwhile, so only a connection that
/// waits for nothing but this watch should use it (the CLI's `audience watch`).
final class WatchPacing: Sendable {
  let limit: Int
  private let buffered = Atomic<Int>(0)
  private let paused = Atomic<Bool>(false)
  /// Set for good once the watch is being cancelled or has ended: the events still to come are
  /// read and not counted (counted, they paused the connection again while `cancel` waited for
  /// its answer behind them, for ever).
  private let off = Atomic<Bool>(false)
  private let channel: any Channel

  init(limit: Int, channel: any Channel) {
    self.limit = max(2, limit)
    self.channel = channel
  }

  /// An event was received and kept for the reader (on the event loop).
  func arrived() {
    if off.load(ordering: .relaxed) { return }
    let n = buffered.wrappingAdd(1, ordering: .relaxed).newValue
    if n > limit, !paused.exchange(true, ordering: .relaxed) {
      channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
      // The reader may have taken enough between the count and the pause (its `resume` then
      // found nothing paused): look again.
      if buffered.load(ordering: .relaxed) <= limit / 2 || off.load(ordering: .relaxed) { resume() }
    }
  }

  /// The watch is being cancelled or has ended: reading goes on, for good.
  func stop() {
    off.store(true, ordering: .relaxed)
    resume()
  }

  /// An event was taken by the reader.
  func taken() {
    let n = buffered.wrappingSubtract(1, ordering: .relaxed).newValue
    if n <= limit / 2 { resume() }
  }

  /// Reads again (the reader took enough, or it is about to wait for another response).
  func resume() {
    if paused.exchange(false, ordering: .relaxed) {
      channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
    }
  }
}

/// The reader's side of a paced watch's events: each taken is counted.
final class PacedEvents: @unchecked Sendable {
  private var iterator: AsyncThrowingStream<WatchEvent, any Error>.AsyncIterator
  private let pacing: WatchPacing

  init(_ events: AsyncThrowingStream<WatchEvent, any Error>, _ pacing: WatchPacing) {
    iterator = events.makeAsyncIterator()
    self.pacing = pacing
  }

  /// Called by one reader at a time (an unfolding stream's producer).
  func next() async throws -> WatchEvent? {
    let event = try await iterator.next()
    if event != nil { pacing.taken() }
    return event
  }
}
