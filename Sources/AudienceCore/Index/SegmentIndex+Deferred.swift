/// Posting sets brought up to date later, in bulk. While the index is detached from the graph
/// (a large commit's changes applied on the `indexer` thread) and while a replay rebuilds it, an
/// update writes only the profile's codes, age and interest codes; the posting sets catch up in
/// `syncPostings`, before anything reads them (`IdentityGraph.attach`, `finishReplay`).
///
/// Why: moving one profile between posting sets is a cache miss or two per value (the set's
/// count, its last id, its bitmap word), a quarter of the indexer's time during a bulk load. The
/// catching up goes a column at a time and, for the profiles created meanwhile, in id order:
/// each set only grows at its end, which is in cache.
struct DeferredPostings: Sendable {
  /// What a profile that existed when deferral began was posted under.
  struct Posted: Sendable {
    /// The six column codes, and the age in the last lane.
    var codes: SIMD8<UInt32>
    var interests: InterestCodes
  }

  /// Profiles from here up were created since deferral began: not in any posting set yet.
  let postedBelow: Int
  /// Profiles below `postedBelow` changed since, with what they are posted under.
  var changed: [Int: Posted] = [:]
}

extension SegmentIndex {
  /// Leaves the posting sets behind from now until `syncPostings`.
  mutating func deferPostings() {
    if deferred == nil { deferred = DeferredPostings(postedBelow: universe) }
  }

  /// Notes what a profile is posted under before its first change since deferral began.
  mutating func keepPosted(_ id: Int) {
    guard id < deferred!.postedBelow, deferred!.changed[id] == nil else { return }
    var codes = SIMD8<UInt32>(repeating: 0)
    for c in Column.allCases { codes[c.rawValue] = self.codes[c.rawValue][id] }
    codes[Self.ageLane] = UInt32(ages[id])
    deferred!.changed[id] = DeferredPostings.Posted(codes: codes, interests: interestCodes[id])
  }

  static let ageLane = 7

  /// Whether some posting set is behind the columns.
  var postingsBehind: Bool { deferred.map { !$0.changed.isEmpty || $0.postedBelow < universe } ?? false }

  /// Profiles changed, and profiles created, since deferral began, past which the detached index
  /// catches up even while writes go on: what is kept for the changed ones stays bounded (about
  /// 100 bytes each), and so does the wait of the reader that attaches the index next. A load of
  /// a million new profiles still catches up about once.
  static let changedBeforeCatchUp = 1 << 16
  static let createdBeforeCatchUp = 1 << 20

  var postingsFarBehind: Bool {
    guard let d = deferred else { return false }
    return d.changed.count >= Self.changedBeforeCatchUp || universe - d.postedBelow >= Self.createdBeforeCatchUp
  }

  /// Bytes kept for the changed profiles while deferring (about: a dictionary entry each, and
  /// the interest codes it keeps alive).
  var deferredMemoryBytes: Int {
    deferred.map { d in
      d.changed.values.reduce(d.changed.capacity * (8 + MemoryLayout<DeferredPostings.Posted>.stride)) { $0 + $1.interests.heapBytes }
    } ?? 0
  }

  /// Brings every posting set up to date with the columns, and ends deferral.
  mutating func syncPostings() {
    guard let d = deferred else { return }
    deferred = nil
    for (id, posted) in d.changed { repost(id, from: posted) }
    guard d.postedBelow < universe else { return }
    let new = d.postedBelow..<universe
    let u = universe
    for c in Column.allCases.map(\.rawValue) {
      codes[c].withUnsafeBufferPointer { column in
        postings[c].withUnsafeMutableBufferPointer { sets in
          for id in new where column[id] != 0 { sets[Int(column[id])].insert(id, universe: u) }
        }
      }
    }
    ages.withUnsafeBufferPointer { ages in
      agePostings.withUnsafeMutableBufferPointer { sets in
        for id in new where ages[id] != Self.noAge { sets[Int(ages[id])].insert(id, universe: u) }
      }
    }
    interestPostings.withUnsafeMutableBufferPointer { sets in
      for id in new {
        for code in interestCodes[id] { sets[Int(code)].insert(id, universe: u) }
      }
    }
  }

  /// Moves a profile from the posting sets it was in to the ones its columns now say.
  private mutating func repost(_ id: Int, from posted: DeferredPostings.Posted) {
    for c in Column.allCases.map(\.rawValue) where posted.codes[c] != codes[c][id] {
      repost(id, column: c, from: posted.codes[c], to: codes[c][id])
    }
    let age = UInt8(posted.codes[Self.ageLane])
    if age != ages[id] { repost(id, age: age, as: ages[id]) }
    if posted.interests != interestCodes[id] { repost(id, interests: posted.interests, as: interestCodes[id]) }
  }
}
