/// A profile entering or leaving a live segment.
public enum SegmentChange: Hashable, Sendable {
  /// The profile now matches; `profile` is how it looks now.
  case enter(ProfileID, profile: Record)
  /// The profile no longer matches. `profile` is how it looks now, nil when it was merged
  /// into another profile (`mergedInto`).
  case leave(ProfileID, profile: Record?, mergedInto: ProfileID?)
  /// The profile was erased (Forget) while in the segment.
  case forgotten(ProfileID)
}

/// Who is in one live segment, kept in step with the graph: after records are applied,
/// `update` compares the profiles they touched with the filter and reports who entered
/// and who left. Only touched profiles can change, because a record changes only the
/// profile it joins (and those merged into it).
public struct SegmentMembership: Sendable {
  public let filter: Filter?
  let categories: InterestCategories
  var members: Bitmap
  /// Set while the watch's reader is behind (SegmentMembership+Backlog.swift).
  var backlog: Backlog?

  /// The segment as it is now.
  /// - Parameters:
  ///   - filter: the segment; nil is every profile.
  ///   - categories: interest categories, for `category` predicates.
  ///   - graph: the profiles.
  public init(_ filter: Filter?, categories: InterestCategories, in graph: IdentityGraph) {
    self.filter = filter
    self.categories = categories
    self.members = graph.index.evaluate(filter, categories)
  }

  /// Number of profiles in the segment.
  public var count: Int { members.count }

  /// Brings the membership up to date after records were applied.
  /// - Parameters:
  ///   - outcomes: what applying them returned, in order.
  ///   - graph: the graph after all of them were applied.
  /// - Returns: the changes, each profile at most once, in the order the records touched them;
  ///   none while behind (`fallBehind`): they are remembered.
  public mutating func update(after outcomes: some Sequence<IngestOutcome>, in graph: IdentityGraph) -> [SegmentChange] {
    var changes: [SegmentChange] = []
    for outcome in outcomes {
      switch outcome {
      case .created(let id), .updated(let id), .capped(let id, _):
        check(id, graph, &changes)
      case .merged(let id, let absorbed):
        for gone in absorbed {
          if members.contains(gone) {
            members.remove(gone)
            changes.append(.leave(gone, profile: nil, mergedInto: id))
          } else {
            vanished(.leave(gone, profile: nil, mergedInto: id))
          }
        }
        check(id, graph, &changes)
      case .duplicate, .rejected:
        break
      }
    }
    return queueOrRemember(changes) { graph.profiles[$0] != nil }
  }

  /// A profile was erased: it leaves the segment if it was in it.
  /// - Parameters:
  ///   - id: the erased profile.
  /// - Returns: FORGOTTEN when it was in the segment, nil otherwise or while behind (it is
  ///   remembered).
  public mutating func forgotten(_ id: ProfileID) -> SegmentChange? {
    guard members.contains(id) else {
      vanished(.forgotten(id))
      return nil
    }
    members.remove(id)
    return queueOrRemember([.forgotten(id)]) { _ in false }.first
  }

  /// A profile was split (`IdentityGraph.split`): it leaves the segment if it was in it, and the
  /// profiles it became enter if they match.
  /// - Parameters:
  ///   - split: what the split did.
  ///   - before: the split profile's view before the split (`IdentityGraph.view(of:)`): its
  ///     LEAVE carries it. Without data a LEAVE says a merge, and named profile 0 as the survivor.
  ///   - graph: the graph after it.
  public mutating func update(after split: SplitResult, before: Record?, in graph: IdentityGraph) -> [SegmentChange] {
    if split.profiles == [split.from] { return [] }  // nothing changed
    var changes: [SegmentChange] = []
    if members.contains(split.from) {
      members.remove(split.from)
      changes.append(.leave(split.from, profile: before, mergedInto: nil))
    } else if graph.profiles[split.from] == nil {
      vanished(.leave(split.from, profile: before, mergedInto: nil))
    }
    for id in split.profiles { check(id, graph, &changes) }
    return queueOrRemember(changes) { graph.profiles[$0] != nil }
  }

  private mutating func check(_ id: ProfileID, _ graph: IdentityGraph, _ changes: inout [SegmentChange]) {
    // Merged away by a later record of the same batch: that record's outcome reports it.
    guard let profile = graph.profiles[id] else { return }
    // Past the interest cap, the oldest interests are matched no more, as in queries (the
    // index holds the kept ones): a watch matched every interest, and kept a profile a query
    // no longer returned.
    let cap = graph.limits.maxInterestsPerProfile
    let now =
      filter.map { f in
        profile.interests.count > cap ? f.matches(InterestCapped(profile, cap: cap), categories) : f.matches(profile, categories)
      } ?? true
    guard now != members.contains(id) else { return }
    // While behind the changes are only remembered: no view is made (an empty record).
    let view = backlog == nil ? profile.view(cookie: nil, interestCap: cap) : Record(cookie: "")
    if now {
      members.insert(id)
      changes.append(.enter(id, profile: view))
    } else {
      members.remove(id)
      changes.append(.leave(id, profile: view, mergedInto: nil))
    }
  }
}
