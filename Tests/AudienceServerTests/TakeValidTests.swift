import AudienceCore
@testable import AudienceServer
import Testing

/// A group of validated stream batches goes to the store batch by batch, each batch's records
/// moved out rather than copied.
@Suite("Joining validated batches")
struct TakeValidTests {
  static func batch(_ cookies: [String]) -> RequestRouter.PreparedBatch {
    let records = cookies.map { Record(cookie: $0, email: "\($0)@example.com", interests: ["Gaming", $0]) }
    var batch = RequestRouter.PreparedBatch(count: records.count, identify: true)
    for (i, r) in records.enumerated() { batch.take(r, at: i) }
    return batch
  }

  @Test func eachBatchsRecordsAreTakenAndTheBatchesLeftEmpty() {
    var prepared = [Self.batch(["a-long-cookie-1", "b"]), Self.batch([]), Self.batch(["c", "d-long-cookie-4", "e"])]
    let groups = RequestRouter.takeValid(&prepared)
    #expect(groups.map { $0.map(\.cookie) } == [["a-long-cookie-1", "b"], [], ["c", "d-long-cookie-4", "e"]])
    #expect(groups[2].map(\.interests) == [["Gaming", "c"], ["Gaming", "d-long-cookie-4"], ["Gaming", "e"]])
    #expect(prepared.allSatisfy { $0.valid.isEmpty })
    #expect(prepared.map(\.positions.count) == [2, 0, 3], "only the records are taken")
  }

  @Test func batchesTheCallerStillHoldsKeepTheirRecords() {
    var prepared = [Self.batch(["a-long-cookie-1", "b"]), Self.batch(["c"])]
    let kept = prepared
    let groups = RequestRouter.takeValid(&prepared)
    #expect(groups.map { $0.map(\.cookie) } == [["a-long-cookie-1", "b"], ["c"]])
    #expect(kept.map { $0.valid.map(\.cookie) } == [["a-long-cookie-1", "b"], ["c"]])
    #expect(kept[0].valid[0].email == "a-long-cookie-1@example.com")
  }
}
