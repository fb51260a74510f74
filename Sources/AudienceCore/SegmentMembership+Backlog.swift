/// A watch whose reader fell behind: rather than queueing every change (each holds a profile's
/// view), the membership remembers which profiles changed and, as the reader catches up, sends
/// each of them once, from what the reader was last told to what is true then.
///
/// `believed` is the segment as the reader will know it once every change queued so far is read;
/// `dirty`, the profiles changed since the backlog began and not yet drained. Draining a dirty
/// profile compares the two: it entered (ENTER with its view then), it left (LEAVE with its view
/// then, or as it was recorded when it is gone: merged, erased or split), or neither, and then
/// nothing is sent (as for a member that changes without leaving). Memory is two bitmaps over
/// the profile ids and one recorded change per believed member that is gone, however far
/// behind the reader is.
extension SegmentMembership {
  struct Backlog: Sendable {
    var believed: Bitmap
    var dirty: Bitmap
    var dirtyCount = 0
    /// How believed members that no longer exist left (merged, erased, split), by profile id.
    var gone: [ProfileID: SegmentChange] = [:]
    /// Dirty profiles above this one are drained first (then the scan starts again from 0).
    var cursor = -1

    /// - Parameters:
    ///   - change: a change an update computed.
    ///   - exists: whether its profile exists after the update.
    mutating func mark(_ change: SegmentChange, exists: Bool) {
      let id = change.profileID
      if !dirty.contains(id) {
        dirty.insert(id)
        dirtyCount += 1
      }
      // How a member the reader knows left, when nothing of it is left to say it (merged, erased,
      // split: a split's LEAVE carries the view it had).
      if case .enter = change { return }
      if believed.contains(id) && !exists { gone[id] = change }
    }
  }

  /// Whether changes are being remembered rather than queued.
  public var isBehind: Bool { backlog != nil }

  /// Starts remembering changes instead of queueing them: `changes` (just computed by an update,
  /// and not queued) are the first.
  /// - Parameters:
  ///   - changes: the changes of the update that did not fit in the queue.
  public mutating func fallBehind(with changes: [SegmentChange]) {
    guard !changes.isEmpty, backlog == nil else { return }
    // Undo this update's changes: the reader knows the segment as it was before them.
    var believed = members
    for change in changes.reversed() {
      switch change {
      case .enter(let id, _): believed.remove(id)
      case .leave(let id, _, _), .forgotten(let id): believed.insert(id)
      }
    }
    var backlog = Backlog(believed: believed, dirty: Bitmap())
    // A LEAVE is kept as it is for a profile the reader knew (its view is there already); a
    // drain sends the profile's view then instead if it still exists.
    for change in changes { backlog.mark(change, exists: false) }
    self.backlog = backlog
  }

  /// A profile that is not a member went away (merged, erased, split): while behind, the reader
  /// may still know it as a member (it left since, unsaid), and is told how it went. (It was told
  /// a LEAVE without data, which says "merged into profile 0".)
  mutating func vanished(_ change: SegmentChange) {
    guard backlog?.believed.contains(change.profileID) == true else { return }
    backlog?.mark(change, exists: false)
  }

  /// What an update returns: its changes, or none while behind (they are remembered).
  /// - Parameters:
  ///   - changes: what the update computed.
  ///   - exists: whether a changed profile exists after the update.
  mutating func queueOrRemember(_ changes: [SegmentChange], exists: (ProfileID) -> Bool) -> [SegmentChange] {
    guard !changes.isEmpty, backlog != nil else { return changes }
    for change in changes { backlog?.mark(change, exists: exists(change.profileID)) }
    return []
  }

  /// Up to `limit` changes that bring the reader from what it knows to the segment now, in
  /// increasing profile id order; the backlog ends once no profile is left to drain. It may
  /// return none while some are left (at most `16 * limit` profiles are looked at per call).
  /// - Parameters:
  ///   - limit: most changes to return (each drained profile gives at most one).
  ///   - graph: the graph now (its profiles give the views).
  public mutating func drain(upTo limit: Int, in graph: IdentityGraph) -> [SegmentChange] {
    guard var b = backlog else { return [] }
    backlog = nil  // so that `b` is not copied when it is changed below
    let cap = graph.limits.maxInterestsPerProfile
    var changes: [SegmentChange] = []
    var looked = 0
    var ids: [ProfileID] = []
    scan: while changes.count < limit, b.dirtyCount > 0, looked < 16 * limit {
      ids.removeAll(keepingCapacity: true)
      b.dirty.forEach(after: b.cursor) { id in
        ids.append(id)
        return ids.count < limit
      }
      if ids.isEmpty {
        b.cursor = -1  // the dirty profiles left are below the cursor: from the start again
        continue
      }
      for id in ids {
        b.dirty.remove(id)
        b.dirtyCount -= 1
        b.cursor = id
        looked += 1
        let recorded = b.gone.removeValue(forKey: id)
        let known = b.believed.contains(id)
        let profile = graph.profiles[id]
        let now = profile != nil && members.contains(id)
        if now && !known {
          b.believed.insert(id)
          changes.append(.enter(id, profile: profile!.view(cookie: nil, interestCap: cap)))
        } else if !now && known {
          b.believed.remove(id)
          if let profile {
            changes.append(.leave(id, profile: profile.view(cookie: nil, interestCap: cap), mergedInto: nil))
          } else {
            // Gone, and how was recorded (`mark`, `vanished`); were it not, FORGOTTEN says less
            // than a LEAVE without data, which names a survivor.
            changes.append(recorded ?? .forgotten(id))
          }
        }
        if changes.count == limit { break scan }
      }
    }
    if b.dirtyCount > 0 { backlog = b }
    return changes
  }
}

extension SegmentChange {
  /// The profile the change is about.
  public var profileID: ProfileID {
    switch self {
    case .enter(let id, _), .leave(let id, _, _), .forgotten(let id): id
    }
  }
}
