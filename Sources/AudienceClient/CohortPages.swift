public import AudienceCore
public import AudienceWire
import NIOCore

/// Every page of a segmentation query (`AudienceClient.cohortPages`), one request ahead of the
/// reader: the next page is asked for as soon as a page arrives, before the program reads it.
public struct CohortPages: AsyncSequence, Sendable {
  public typealias Element = LazyCohortPage

  let client: AudienceClient
  let query: CohortQuery
  let timeoutMs: UInt32

  public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(pages: self) }

  public struct AsyncIterator: AsyncIteratorProtocol {
    let pages: CohortPages
    /// The page asked for and not yet read; nil once the last page was read.
    var pending: EventLoopFuture<ByteBuffer>?
    var started = false

    init(pages: CohortPages) { self.pages = pages }

    public mutating func next() async throws -> LazyCohortPage? {
      if !started {
        started = true
        pending = pages.client.requestFrame(.queryCohort(pages.query), timeoutMs: pages.timeoutMs)
      }
      guard let asked = pending else { return nil }
      pending = nil
      let frame = try await asked.get()
      if let cursor = LazyCohortPage.nextCursor(in: frame) {
        var next = pages.query
        next.cursor = cursor
        pending = pages.client.requestFrame(.queryCohort(next), timeoutMs: pages.timeoutMs)
      }
      return try pages.client.lazyPage(frame)
    }
  }
}
