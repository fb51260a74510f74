/// One change to the segment index, recorded while the index is detached.
public struct IndexChange: Sendable {
  enum Kind: Sendable {
    case update(SegmentIndex.Row)
    case remove(Int)
  }

  let kind: Kind

  init(_ kind: consuming Kind) { self.kind = kind }
}

/// The segment index taken out of a graph, so that a writer can keep it up to date on another
/// thread while it applies records: `IdentityGraph.detachIndex()` hands it over, the graph then
/// records its index changes instead of making them, `takeIndexChanges()` collects them (in
/// order) for `apply(_:)`, and `attach(_:)` puts the index back. The graph's queries must not
/// run in between (the store holds the graph's lock throughout).
public struct DetachedIndex: Sendable {
  var index: SegmentIndex

  /// Applies changes in order. Each is moved out to a local: read in place, the optimizer would
  /// copy it (a retain and a release of each string of a row) for the call.
  public mutating func apply(_ changes: consuming [IndexChange]) {
    var changes = changes
    changes.withUnsafeMutableBufferPointer { changes in
      for i in changes.indices {
        let slot = changes.baseAddress! + i
        let change = slot.move()
        slot.initialize(to: IndexChange(.remove(-1)))  // owns nothing: released as it is
        index.apply(change.kind)
      }
    }
    if index.postingsFarBehind { catchUp() }
  }

  /// Brings the posting sets up to date with the changes applied so far (and goes on deferring):
  /// once writes pause (`EmbeddedStore`), so that a reader after a load seldom has any to bring
  /// up to date.
  public mutating func catchUp() {
    index.syncPostings()
    index.deferPostings()
  }

  /// The index moved out, an empty one left here: the caller's is then the only reference to
  /// its storage, so that bringing its posting sets up to date does not copy them.
  public mutating func take() -> DetachedIndex {
    defer { index = SegmentIndex() }
    return self
  }
}

extension SegmentIndex {
  mutating func apply(_ change: consuming IndexChange.Kind) {
    switch consume change {
    case .update(let row): update(row)
    case .remove(let id): remove(id)
    }
  }
}

extension IdentityGraph {
  /// Makes an index change, or records it while the index is detached (moved in: a row's
  /// strings are not retained again).
  mutating func changeIndex(_ change: consuming IndexChange.Kind) {
    if indexChanges != nil { indexChanges!.append(IndexChange(change)) } else { index.apply(change) }
  }

  /// Takes the segment index out; from now on applying records records its changes.
  /// - Parameters:
  ///   - reserving: room to make for the changes recorded until the first `takeIndexChanges`.
  public mutating func detachIndex(reserving first: Int = 0) -> DetachedIndex {
    precondition(indexChanges == nil, "the index is already detached")
    defer { index = SegmentIndex() }
    indexChanges = []
    indexChanges!.reserveCapacity(first)
    index.deferPostings()
    return DetachedIndex(index: index)
  }

  /// The index changes recorded since the last call, in order.
  /// - Parameters:
  ///   - reserving: room to make for the changes recorded until the next call (the list would
  ///     otherwise grow from empty again, an allocation and a copy of every row per doubling).
  public mutating func takeIndexChanges(reserving next: Int = 0) -> [IndexChange] {
    var fresh: [IndexChange] = []
    fresh.reserveCapacity(next)
    defer { indexChanges = fresh }
    return indexChanges ?? []
  }

  /// Puts the index back, once every recorded change was applied to it.
  public mutating func attach(_ detached: consuming DetachedIndex) {
    precondition(indexChanges?.isEmpty ?? false, "index changes were not handed over")
    indexChanges = nil
    index = detached.index
    index.syncPostings()
  }
}
