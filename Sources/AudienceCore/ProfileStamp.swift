import Synchronization

/// Which state of which profile a view shows: its id and its revision. Two equal stamps mean the
/// same view (same data, same summary), so a reader may keep a view's encoding under its stamp.
public struct ProfileStamp: Hashable, Sendable {
  public var id: ProfileID
  public var revision: UInt64

  /// - Parameters:
  ///   - id: the profile.
  ///   - revision: its `Profile.revision`.
  public init(id: ProfileID, revision: UInt64) {
    self.id = id
    self.revision = revision
  }

  /// Revisions are unique in the process, not only in one graph: a graph rebuilt in the same
  /// process (a store reopened) never repeats a stamp with other contents.
  private static let counter = Atomic<UInt64>(0)

  static func nextRevision() -> UInt64 { counter.add(1, ordering: .relaxed).newValue }
}

/// A profile's view with its stamp: what a reader encodes once and keeps.
public struct StampedView: Sendable {
  public var stamp: ProfileStamp
  /// The merged profile in the record shape; `cookie` is the latest record's cookie.
  public var data: Record
  public var summary: ProfileSummary

  /// - Parameters: the stamp, the view and the summary.
  public init(stamp: ProfileStamp, data: Record, summary: ProfileSummary) {
    self.stamp = stamp
    self.data = data
    self.summary = summary
  }
}

/// A page of a profile-scoped query as stamps: the profiles, not yet their views.
public struct StampedPage: Sendable {
  /// Every match, not only this page's.
  public var total: Int
  /// This page's profiles.
  public var users: [ProfileStamp]
  /// Nil on the last page.
  public var nextCursor: String?
}

extension IdentityGraph {
  /// The stamp of the profile a cookie belongs to, or nil for an unknown cookie.
  /// - Parameters:
  ///   - cookie: the cookie, trimmed.
  public func stamp(cookie: String) -> ProfileStamp? {
    guard let id = cookies[cookie]?.profile, id < revisions.count else { return nil }
    return ProfileStamp(id: id, revision: revisions[id])
  }

  /// The views of live profiles, with their current stamps; nil where a profile is gone.
  /// - Parameters:
  ///   - ids: profile ids.
  public func stampedViews(_ ids: [ProfileID]) -> [StampedView?] {
    ids.map { id in
      guard id >= 0, id < profiles.count, let p = profiles[id] else { return nil }
      return StampedView(
        stamp: ProfileStamp(id: id, revision: revisions[id]),
        data: p.view(cookie: nil, interestCap: limits.maxInterestsPerProfile), summary: summary(p))
    }
  }
}
