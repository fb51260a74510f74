/// Profile ids that survive an erasure and a replay.
///
/// A profile's id is its place in creation order: the record that created it got the next free
/// id. A replay of the stored records numbers them the same way, so ids are stable, until a
/// forget erases records that created profiles: replayed without them, every later profile would
/// be numbered lower. So the store logs each creation (the record's seq, flagged `splitMade` when
/// a split applied the record again, and the id it got: `takeProfileCreations`) and, at each
/// erasure, how many ids were taken. A replay is told, in seq order, the id each stored record
/// created (`hintCreation`), the ids erased records had taken (`reserveProfileID`), the ids splits
/// gave (`replaySplitHints`), and how many ids were taken at each erasure
/// (`reserveProfileIDs(below:)`). A record that makes a profile now but did not then (it had
/// joined, through a cookie a forget erased, a profile that was later split) gets an id after
/// every logged one, so as not to take another's.
extension IdentityGraph {
  /// The id for a profile that record `seq` creates, the slots below it made (the caller puts the
  /// profile at the id, appending it when the id is `profiles.count`): the hinted one in a
  /// replay when it was never given, else the next one (in a replay, a creation no log names
  /// takes an id after every logged one, so as not to take one of theirs). Logs the creation
  /// unless a hint gave it (the store holds that one already).
  mutating func newProfileID(seq: UInt64) -> ProfileID {
    var hint = creationHint
    creationHint = nil
    // A split in a replay: the id a split gave when this record made a profile (a record the
    // split applies again that only joins one takes none). One given already was a split's
    // whose cookie was forgotten since (that split is not replayed): the next is this one's.
    // The ids are those this split gave (an earlier split replayed may now make a profile at a
    // record where it did not live: it took the id the later split gave there, and the later
    // split's profile got a fresh one); in logs of older builds, those any split gave.
    if hint == nil, replaying, splitting {
      for key in [SplitHintKey(seq: seq, application: application), SplitHintKey(seq: seq, application: 0)] {
        while hint == nil, var ids = splitHints[key], !ids.isEmpty {
          let next = ids.removeFirst()
          splitHints[key] = ids.isEmpty ? nil : ids
          if isFreeProfileID(next) { hint = next }
        }
      }
    }
    if let hint, isFreeProfileID(hint) {
      reserveProfileIDs(below: hint)
      return hint
    }
    // Records from before the log began (a database of an older build) are numbered in creation
    // order, as they were.
    let id: ProfileID
    if replaying, seq >= freshFromSeq, let through = loggedThrough {
      if seq > through, !splitting {
        // The last commit's: the ids they were given live, in order.
        var next = Swift.max(nextFreshID, freshIDs)
        while !isFreeProfileID(next) { next += 1 }
        nextFreshID = next + 1
        id = next
      } else {
        id = Swift.max(profiles.count, replayOnlyIDs)
      }
    } else {
      id = replaying && seq >= freshFromSeq ? Swift.max(profiles.count, freshIDs) : profiles.count
    }
    pendingCreations.append(splitting ? Self.splitCreation(seq, application: application) : seq)
    pendingCreations.append(UInt64(id))
    reserveProfileIDs(below: id)
    return id
  }

  /// Whether no profile ever had this id (it may be reserved: an empty slot that never held one).
  func isFreeProfileID(_ id: ProfileID) -> Bool {
    id >= profiles.count || (profiles[id] == nil && (id >= revisions.count || revisions[id] == 0))
  }

  /// Every stored record but `excluded`'s, with its live profile, seqs increasing: what a forget
  /// that erases a split needs to know which records create and which join each profile in a
  /// replay that has no split making it (`ProfileCreationLog.writeCreators`).
  public func recordProfiles(excluding excluded: ProfileID) -> [(seq: UInt64, id: ProfileID)] {
    var out: [(seq: UInt64, id: ProfileID)] = []
    for (slot, r) in records.enumerated() {
      guard let r, let id = cookies[r.cookie]?.profile, id != excluded else { continue }
      out.append((UInt64(slot), id))
    }
    return out
  }

  /// Marks, in a logged creation's seq, a profile a split made.
  public static let splitMade: UInt64 = 1 << 63
  /// In a logged creation a split made, the split's number (its `splits` row) sits in bits 40-62
  /// of the seq, when both fit (0: not said, as in logs of older builds).
  public static let applicationShift: UInt64 = 40
  public static let seqMask: UInt64 = (1 << applicationShift) - 1

  /// The record's seq in a logged creation (without the split's flag and number).
  static func loggedSeq(_ logged: UInt64) -> UInt64 {
    logged & splitMade == 0 ? logged : logged & seqMask
  }

  public static func applicationTag(_ application: UInt64, seq: UInt64) -> UInt64 {
    guard seq <= seqMask, application < 1 << (63 - applicationShift) else { return 0 }
    return application << applicationShift
  }

  /// A logged creation's seq for a profile split `application` made at record `seq`.
  public static func splitCreation(_ seq: UInt64, application: UInt64) -> UInt64 {
    seq | splitMade | applicationTag(application, seq: seq)
  }

  /// In a replay: the ids splits gave the profiles they made, by the record that made each and
  /// the split that did (its number, 0 when the log does not say), in the order they were made.
  public mutating func replaySplitHints(_ made: [(seq: UInt64, application: UInt64, id: ProfileID)]) {
    splitHints = [:]
    for (seq, application, id) in made {
      // A split named makes one profile at a record at most: an entry logged again (by a forget
      // that erased a later split) replaces the first.
      if application != 0 {
        splitHints[SplitHintKey(seq: seq, application: application)] = [id]
      } else {
        splitHints[SplitHintKey(seq: seq, application: 0), default: []].append(id)
      }
    }
  }

  /// In a replay: creations no log names (made after the last one stored, or made differently
  /// now) by records from `seq` on take ids from `id` on; those of earlier records (stored before
  /// the log began) take the next id, as they did.
  /// - Parameters:
  ///   - id: the first id no log names.
  ///   - seq: the first record the log names (before it, an older build's records).
  ///   - through: the last record whose creation the log would name (`loggedThrough`), if known.
  ///   - after: how many stored records come after `through`.
  public mutating func replayFreshIDs(from id: ProfileID, forRecordsFrom seq: UInt64, loggedThrough through: UInt64? = nil, recordsAfter after: Int = 0) {
    freshIDs = id
    freshFromSeq = seq
    loggedThrough = through
    nextFreshID = id
    replayOnlyIDs = id + after
  }

  /// The creations since the last call, as pairs (seq, id), in the order they happened: for the
  /// store to keep with the records.
  public mutating func takeProfileCreations() -> [UInt64] {
    defer { pendingCreations = [] }
    return pendingCreations
  }

  /// Puts back creations taken for a write that failed, before any logged since.
  public mutating func restoreProfileCreations(_ pairs: [UInt64]) { pendingCreations = pairs + pendingCreations }

  /// In a replay: the next record applied created profile `id` when it was first stored. If it
  /// creates none now, the id stays taken.
  public mutating func hintCreation(_ id: ProfileID) { creationHint = id }

  /// In a replay, after applying the hinted record: a hint it did not use keeps its id taken.
  public mutating func endHint() {
    if let hint = creationHint { reserveProfileID(hint) }
    creationHint = nil
  }

  /// In a replay: an erased record had created profile `id`; it is not given to another.
  public mutating func reserveProfileID(_ id: ProfileID) { reserveProfileIDs(below: id + 1) }

  /// Takes every id below `count` (none is live or reused: the slots stay empty).
  public mutating func reserveProfileIDs(below count: Int) {
    while profiles.count < count { profiles.append(nil) }
    while revisions.count < count { revisions.append(0) }
  }

  /// The number of ids taken so far (live, merged away, erased or reserved).
  public var profileIDsTaken: Int { profiles.count }
}

/// A record and the split that applied it again (`IdentityGraph.splitHints`).
struct SplitHintKey: Hashable {
  var seq: UInt64
  var application: UInt64
}
