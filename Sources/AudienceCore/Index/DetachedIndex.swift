/// One change to the segment index, recorded while the index is detached.
public struct IndexChange: Sendable {
  enum Kind: Sendable {
    case update(SegmentIndex.Row)
    case remove(Int)
  }

  let kind: Kind

  init(_ kind: Kind) { self.kind = kind }
}

/// The segment index taken out of a graph, so that a writer can keep it up to date on another
/// thread while it applies records: `IdentityGraph.detachIndex()` hands it over, the graph then
/// records its index changes instead of making them, `takeIndexChanges()` collects them (in
/// order) for `apply(_:)`, and `attach(_:)` puts the index back. The graph's queries must not
/// run in between (the store holds the graph's lock throughout).
public struct DetachedIndex: Sendable {
  var index: SegmentIndex

  public mutating func apply(_ changes: [IndexChange]) {
    changes.forEachInPlace { _, change in index.apply(change.kind) }
  }
}

extension SegmentIndex {
  mutating func apply(_ change: IndexChange.Kind) {
    switch change {
    case .update(let row): update(row)
    case .remove(let id): remove(id)
    }
  }
}

extension IdentityGraph {
  /// Makes an index change, or records it while the index is detached.
  mutating func changeIndex(_ change: IndexChange.Kind) {
    if indexChanges != nil { indexChanges!.append(IndexChange(change)) } else { index.apply(change) }
  }

  /// Takes the segment index out; from now on applying records records its changes.
  public mutating func detachIndex() -> DetachedIndex {
    precondition(indexChanges == nil, "the index is already detached")
    defer { index = SegmentIndex() }
    indexChanges = []
    return DetachedIndex(index: index)
  }

  /// The index changes recorded since the last call, in order.
  public mutating func takeIndexChanges() -> [IndexChange] {
    defer { indexChanges = [] }
    return indexChanges ?? []
  }

  /// Puts the index back, once every recorded change was applied to it.
  public mutating func attach(_ detached: consuming DetachedIndex) {
    precondition(indexChanges?.isEmpty ?? false, "index changes were not handed over")
    indexChanges = nil
    index = detached.index
  }
}
