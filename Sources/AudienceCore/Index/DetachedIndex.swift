/// One change to the segment index, recorded while the index is detached: a profile's row, or
/// its removal (then only `row.id` counts).
///
/// A struct with the row in place rather than an enum around it: the row (160 bytes) was copied
/// on its way into the enum, the change and the array, four or five times per record.
public struct IndexChange: Sendable {
  var row: SegmentIndex.Row
  var removal: Bool

  init(update row: consuming SegmentIndex.Row) {
    self.row = row
    removal = false
  }

  init(removing id: Int) {
    row = SegmentIndex.Row(removing: id)
    removal = true
  }
}

/// The segment index taken out of a graph, so that a writer can keep it up to date on another
/// thread while it applies records: `IdentityGraph.detachIndex()` hands it over, the graph then
/// records its index changes instead of making them, `takeIndexChanges()` collects them (in
/// order) for `apply(_:)`, and `attach(_:)` puts the index back. The graph's queries must not
/// run in between (the store holds the graph's lock throughout).
public struct DetachedIndex: Sendable {
  var index: SegmentIndex

  /// Applies changes in order, each read where it is (through a pointer: no copy of its row).
  public mutating func apply(_ changes: consuming [IndexChange]) {
    // Each change moved out to a local: read through a pointer, `update` got a copy of the row
    // (a retain and a release of its interests).
    changes.forEachMovedOut { _, change in
      if change.removal { index.remove(change.row.id) } else { index.update(change.row) }
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

extension IdentityGraph {
  /// Brings a profile's index entry up to date, or records the change while the index is
  /// detached (the row made where it is kept: no copy of it on the way).
  mutating func changeIndex(updating id: ProfileID) {
    let cap = limits.maxInterestsPerProfile
    if indexChanges != nil {
      indexChanges!.append(profiles[id]!.indexChange(interestCap: cap))
    } else {
      index.update(profiles[id]!.indexRow(interestCap: cap))
    }
  }

  /// Drops a profile merged away from the index, or records that while the index is detached.
  mutating func changeIndex(removing id: ProfileID) {
    if indexChanges != nil { indexChanges!.append(IndexChange(removing: id)) } else { index.remove(id) }
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
