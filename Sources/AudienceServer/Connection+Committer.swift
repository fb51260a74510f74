import AudienceCore
import AudienceWire
import NIOCore

extension Connection {
  /// Commits an ingest stream's waiting batches, all that are waiting each time, in order, until
  /// none is left; acknowledges each batch once durable (one flush per commit). With the embedded
  /// store the next group is queued while the previous one is being committed (two at most), so
  /// its writer goes from one to the next without waiting for this task; with any other store
  /// one group at a time. Groups are answered in the order they were queued, whatever order the
  /// store reports them in.
  func startCommitter(stream: UInt64, generation: UInt64) {
    let (router, context, socket, streams, budget) = (self.router, self.context, self.socket, self.streams, server.ingestBudget)
    let writer = ResponseWriter(socket: socket)
    let depth = router.queued == nil ? 1 : 2
    typealias Group = [IngestStreams<Task<RequestRouter.PreparedBatch, Never>>.Waiting]
    context.begin()
    Task {
      defer { context.end() }
      let (results, sink) = AsyncStream.makeStream(of: (Int, Result<[IngestSummary], any Error>).self)
      var next = results.makeAsyncIterator()
      // Only the batches' request ids: a batch's validated records are the store's once queued
      // (holding its task would keep them shared, and the store would copy them to move them).
      var queued: [(index: Int, ids: [UInt64], bytes: Int)] = []
      var reported: [Int: Result<[IngestSummary], any Error>] = [:]
      var count = 0

      /// Answers a committed group's batches; after a failure, the stream's waiting batches too.
      func answer(_ ids: [UInt64], bytes: Int, _ result: Result<[IngestSummary], any Error>) {
        var responses: [WireResponse]
        var done = bytes
        switch result {
        case .success(let summaries):
          responses = zip(ids, summaries).map { WireResponse(id: $0, body: .ingest($1)) }
        case .failure(let error):
          // The stream closes: its batches still waiting fail too, later ones are refused.
          let rest = streams.withLock { $0.fail(stream, generation) }
          for r in rest { r.prepared.cancel() }
          done += rest.reduce(0) { $0 + $1.bytes }
          responses = (ids + rest.map(\.id)).map { RequestRouter.failure($0, error) }
        }
        budget.give(done)
        // Counted as acknowledged before the client can see the acknowledgements, so a client
        // that sends on receipt is within its window.
        streams.withLock { $0.acknowledged(stream, generation, responses.count) }
        // Queued before they stop counting as running: a reader that saw the peer leave waits
        // for nothing to run, then closes once the queue is written.
        writer.post(responses)
        socket.finished(responses.count)
      }

      /// Waits for the store to report a group, then answers every group reported, in order.
      func settle() async {
        guard let (index, result) = await next.next() else { return }
        reported[index] = result
        while let first = queued.first, let result = reported.removeValue(forKey: first.index) {
          queued.removeFirst()
          answer(first.ids, bytes: first.bytes, result)
        }
      }

      while true {
        var batches: Group = streams.withLock { $0.take(stream, generation, finishing: queued.isEmpty) }
        if batches.isEmpty {
          if queued.isEmpty { return }
          await settle()
          continue
        }
        var validated: [RequestRouter.PreparedBatch] = []
        validated.reserveCapacity(batches.count)
        for waiting in batches { validated.append(await waiting.prepared.value) }
        let index = count
        count += 1
        queued.append((index, batches.map(\.id), batches.reduce(0) { $0 + $1.bytes }))
        // The tasks go before the store takes their records (each task keeps its value).
        batches.removeAll()
        router.queueIngest(consume validated) { sink.yield((index, $0)) }
        while queued.count >= depth { await settle() }
      }
    }
  }
}
