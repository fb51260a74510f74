import Testing

@testable import AudienceCore

/// A record whose content was stored before is a duplicate of the profile holding it, and never
/// of some other profile.
@Suite("Duplicate outcomes")
struct DuplicateOutcomeTests {
  @Test func aDuplicateNamesTheProfileHoldingTheStoredRecord() {
    var g = IdentityGraph()
    g.apply(StoredRecord(seq: 1, contentID: ContentID(high: 1, low: 1), record: Record(cookie: "first")))
    let record = Record(cookie: "second", email: "s@example.com")
    g.apply(StoredRecord(seq: 2, contentID: ContentID(of: record), record: record))
    #expect(g.claim(ContentID(of: record), seq: 3) == false)
    #expect(g.duplicateOutcome(of: ContentID(of: record)) == .duplicate(1))
  }

  /// Were the stored record's profile gone (an invariant broken), the answer is an error, not
  /// a duplicate of profile 0 (a valid id: another person).
  @Test func aDuplicateWhoseProfileIsGoneIsAnError() {
    var g = IdentityGraph()
    g.apply(StoredRecord(seq: 1, contentID: ContentID(high: 1, low: 1), record: Record(cookie: "first")))
    let record = Record(cookie: "second")
    g.apply(StoredRecord(seq: 2, contentID: ContentID(of: record), record: record))
    g.cookies["second"] = nil
    guard case .rejected(let error) = g.duplicateOutcome(of: ContentID(of: record)) else {
      Issue.record("answered \(g.duplicateOutcome(of: ContentID(of: record)))")
      return
    }
    #expect(error.code == .internal)
  }
}
