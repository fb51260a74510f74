import AudienceCore
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
      // Ask for the next page before reading this one.
      var early = false
      if let cursor = LazyCohortPage.nextCursor(in: frame) {
        ask(after: cursor)
        early = true
      }
      do {
        let page = try pages.client.lazyPage(frame)
        // A page the lazy reader left to protobuf-c: its cursor is known only now.
        if !early, let cursor = page.nextCursor { ask(after: cursor) }
        return page
      } catch {
        pending = nil  // the pages end with the first error
        throw error
      }
    }

    private mutating func ask(after cursor: String) {
      var next = pages.query
      next.cursor = cursor
      pending = pages.client.requestFrame(.queryCohort(next), timeoutMs: pages.timeoutMs)
    }
  }
}
