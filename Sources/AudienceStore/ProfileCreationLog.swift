import AudienceCore

/// The `profile_creations` and `profile_id_marks` tables: which stored record created which
/// profile id (as it came, or when a split applied it again), and how many ids were taken at each
/// erasure, so that a replay numbers profiles as they were numbered live, even after a forget
/// erased some of the records (IdentityGraph+ProfileIDs.swift). Rows of the first hold runs of
/// creations as varints, a few bytes each.
enum ProfileCreationLog {
  static let schema = """
    CREATE TABLE IF NOT EXISTS profile_creations (run INTEGER PRIMARY KEY, pairs BLOB NOT NULL);
    CREATE TABLE IF NOT EXISTS profile_id_marks (mark INTEGER PRIMARY KEY, after_seq INTEGER NOT NULL, next_id INTEGER NOT NULL);
    """

  /// Pairs (seq, id), seqs increasing, as varints: the seq's distance from the previous seq (the
  /// first from 0), then the id's distance from the previous id, zigzagged (the first from 0).
  static func encode(_ pairs: [UInt64]) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(pairs.count * 2)
    var (seq, id): (UInt64, Int64) = (0, 0)
    func varint(_ v: UInt64) {
      var v = v
      while v >= 0x80 {
        out.append(UInt8(v & 0x7F) | 0x80)
        v >>= 7
      }
      out.append(UInt8(v))
    }
    var i = 0
    while i + 1 < pairs.count {
      varint(pairs[i] &- seq)
      let delta = Int64(bitPattern: pairs[i + 1]) &- id
      varint(UInt64(bitPattern: (delta << 1) ^ (delta >> 63)))
      seq = pairs[i]
      id = Int64(bitPattern: pairs[i + 1])
      i += 2
    }
    return out
  }

  /// The pairs of `encode`; throws on bytes that are not such a run.
  static func decode(_ bytes: [UInt8]) throws(AudienceError) -> [UInt64] {
    var out: [UInt64] = []
    var i = 0
    func varint() throws(AudienceError) -> UInt64 {
      var v: UInt64 = 0
      var shift: UInt64 = 0
      while true {
        guard i < bytes.count, shift < 64 else { throw AudienceError(.internal, "profile_creations: a damaged run") }
        let b = bytes[i]
        i += 1
        v |= UInt64(b & 0x7F) << shift
        if b < 0x80 { return v }
        shift += 7
      }
    }
    var (seq, id): (UInt64, Int64) = (0, 0)
    while i < bytes.count {
      seq &+= try varint()
      let z = try varint()
      id &+= Int64(bitPattern: z >> 1) ^ -Int64(bitPattern: z & 1)
      guard id >= 0, id < Int64(Int32.max) else { throw AudienceError(.internal, "profile_creations: a profile id out of range") }
      out.append(seq)
      out.append(UInt64(id))
    }
    return out
  }

  /// Stores a run of creations (in the caller's transaction), after every run stored before: a
  /// record logged again (a replay that could not give it its old id) keeps the later id.
  static func write(_ pairs: [UInt64], to db: SQLiteDatabase) throws(AudienceError) {
    try write(pairs, through: nil, to: db)
  }

  /// The `meta` key of the last record whose creation, if it made one, the log names.
  static let throughKey = "creations_logged_through"

  /// As `write`, and notes that these are the creations of every record up to `through` (the
  /// graph's last record when they were taken): a replay knows that a record after it that makes
  /// a profile the log does not name made it live, in the last commit before a crash, and one
  /// before it did not.
  static func write(_ pairs: [UInt64], through: UInt64?, to db: SQLiteDatabase) throws(AudienceError) {
    if let through {
      let note = try db.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES ('\(throughKey)', ?)")
      note.bind(1, String(through))
      _ = try note.step()
    }
    guard pairs.count >= 2 else { return }
    let insert = try db.prepare("INSERT INTO profile_creations(pairs) VALUES (?)")
    insert.bind(1, bytes: encode(pairs))
    _ = try insert.step()
  }

  /// At an erasure that erases a split (with its split-off cookie), so that a replay will not make
  /// the profiles it made: logs, for each live profile whose earliest record did not create it
  /// when it came, that this record creates it, with its id. Not for a profile a split that stays
  /// builds again in a replay (it applies again one of the profile's records that are still
  /// joined to its cookie without the erased ones; for a split of an older build that lists no
  /// records, any profile whose earliest record came before it): that split gives it its id
  /// there, and only a part of it that would come back with a lower id is logged making this one.
  ///
  /// And another record of such a profile that created a lower id when it came (before the split
  /// joined them into a profile with a new id) would keep it in the replay and survive the merge
  /// that joins the two (the lower id survives): it is logged creating the profile's own id. The
  /// earliest record holds that id by then, so the replay gives it an id after every logged one,
  /// and the profile absorbs it. (Without this, a profile kept its id live and, after a crash,
  /// came back under the lower one, its cookies in another order.)
  /// - Parameters:
  ///   - members: every live profile's records (`IdentityGraph.recordProfiles`), seqs increasing.
  ///   - replay: the splits that stay and what they apply again in a replay.
  static func writeCreators(
    _ members: [(seq: UInt64, id: ProfileID)], replay: SplitReplay, to db: SQLiteDatabase
  ) throws(AudienceError) {
    let log = try readAll(db)
    var creator: [ProfileID: UInt64] = [:]
    var created: [UInt64: ProfileID] = [:]
    for c in log.records {
      creator[c.id] = c.seq
      created[c.seq] = c.id
    }
    // Which split gave each id (0: a split an older build's log does not name).
    var madeBy: [ProfileID: UInt64] = [:]
    for m in log.splits { madeBy[m.id] = m.application }
    // The ids each split gave, by split and record.
    var splitGave: [UInt64: [UInt64: ProfileID]] = [:]
    for m in log.splits where m.application != 0 { splitGave[m.application, default: [:]][m.seq] = m.id }
    let lastKeptApplying = replay.lastKeptApplying
    let lastUnlistedSplit = replay.unlisted.map(\.after).max() ?? 0
    // Each profile's earliest record, and whether a split that stays applies any of its records
    // again in a replay: without the identifier cap, the records and their profiles are the same
    // there (only the erased cookies' own records go, and a split cookie's records link no
    // email), so that split rebuilds it there too, and gives its ids; a profile no such split
    // touches gets its ids from its records' creations and the merges that joined them. (With
    // the cap, a link refused again in the replay can leave a record out of a split's reach that
    // `splitReach` counts in: IDENTITY.md says what that does.)
    var earliest: [ProfileID: UInt64] = [:]
    var keptSplitRebuilds = Set<ProfileID>()
    for (seq, id) in members {
      if earliest[id] == nil { earliest[id] = seq }
      if lastKeptApplying[seq] != nil { keptSplitRebuilds.insert(id) }
    }
    var made: [(seq: UInt64, id: ProfileID)] = []
    var remade: [UInt64] = []  // split creations, as pairs
    for (seq, id) in members {
      guard let first = earliest[id] else { continue }
      // A profile a split that stays builds again is left to it, unless the log says a split
      // that goes gave its id (then none will: it came back with its records' own ids).
      let goneSplitGaveIt = madeBy[id].map { $0 != 0 && !replay.keeps($0) } ?? false
      if first <= lastUnlistedSplit, !goneSplitGaveIt { continue }
      if keptSplitRebuilds.contains(id), !goneSplitGaveIt {
        // Such a split gives the part it builds its id, and the parts merge, the lowest id
        // surviving. A part with a lower id than the profile's (a split that goes renumbered
        // it live) would win: its record makes this id instead (a fresh one if the profile
        // holds it by then, which the merge absorbs). A record a split that stays applies again
        // takes that split's id; another, the id it made when it came.
        if let split = lastKeptApplying[seq] {
          if let gave = splitGave[split]?[seq], gave < id {
            remade += [IdentityGraph.splitCreation(seq, application: split), UInt64(id)]
          }
        } else if let other = created[seq], other < id {
          made.append((seq, id))
        }
        continue
      }
      if goneSplitGaveIt, let split = lastKeptApplying[seq] {
        // A split that stays applies this record again in a replay, and the id it gives there is
        // the one the record ends with (the profile it made before, the split takes apart): the
        // profile's earliest record makes the profile's id there; another record that made a
        // lower one makes this id too, so it gets a fresh one that the merge absorbs.
        let gave = splitGave[split]?[seq]
        if seq == first ? gave != id : (gave.map { $0 < id } ?? false) {
          remade += [IdentityGraph.splitCreation(seq, application: split), UInt64(id)]
        }
      } else if seq == first {
        if creator[id] != seq { made.append((seq, id)) }
      } else if let other = created[seq], other < id {
        made.append((seq, id))
      }
    }
    try write(made.flatMap { [$0.seq, UInt64($0.id)] } + remade, to: db)
  }

  /// Stores how many profile ids were taken when an erasure came, after the record `afterSeq`
  /// (in the erasure's transaction).
  static func writeMark(afterSeq: UInt64, nextID: Int, to db: SQLiteDatabase) throws(AudienceError) {
    let insert = try db.prepare("INSERT INTO profile_id_marks(after_seq, next_id) VALUES (?, ?)")
    insert.bind(1, Int64(bitPattern: afterSeq))
    insert.bind(2, Int64(nextID))
    _ = try insert.step()
  }

  /// Every creation stored: those of records as they came, by seq (a seq logged twice keeps its
  /// last id), and those splits made, in the order they were made. A damaged run is skipped:
  /// a replay then numbers its records' profiles anew (after every logged id).
  static func readAll(_ db: SQLiteDatabase) throws(AudienceError)
    -> (records: [(seq: UInt64, id: ProfileID)], splits: [(seq: UInt64, application: UInt64, id: ProfileID)])
  {
    var records: [(seq: UInt64, id: ProfileID)] = []
    var splits: [(seq: UInt64, application: UInt64, id: ProfileID)] = []
    let select = try db.prepare("SELECT pairs FROM profile_creations ORDER BY run")
    while try select.step() {
      guard let pairs = try? decode(select.bytes(0)) else { continue }
      var i = 0
      while i + 1 < pairs.count {
        if pairs[i] & IdentityGraph.splitMade != 0 {
          let tagged = pairs[i] & ~IdentityGraph.splitMade
          splits.append((tagged & IdentityGraph.seqMask, tagged >> IdentityGraph.applicationShift, ProfileID(pairs[i + 1])))
        } else {
          records.append((pairs[i], ProfileID(pairs[i + 1])))
        }
        i += 2
      }
    }
    // Written in seq order, unless a replay logged a record again: then the later entry wins.
    if zip(records, records.dropFirst()).contains(where: { $0.seq >= $1.seq }) {
      var bySeq: [UInt64: ProfileID] = [:]
      for (seq, id) in records { bySeq[seq] = id }
      records = bySeq.map { ($0.key, $0.value) }.sorted { $0.seq < $1.seq }
    }
    return (records, splits)
  }

  /// Every erasure's count of ids taken, in the order they came.
  /// The last record whose creation the log would name, if a build that notes it wrote it.
  static func loggedThrough(_ db: SQLiteDatabase) throws(AudienceError) -> UInt64? {
    let rows = try db.prepare("SELECT value FROM meta WHERE key = '\(throughKey)'")
    guard try rows.step(), let text = rows.text(0) else { return nil }
    return UInt64(text)
  }

  static func readMarks(_ db: SQLiteDatabase) throws(AudienceError) -> [(after: UInt64, nextID: Int)] {
    var out: [(after: UInt64, nextID: Int)] = []
    let select = try db.prepare("SELECT after_seq, next_id FROM profile_id_marks ORDER BY mark")
    while try select.step() {
      out.append((UInt64(bitPattern: select.int64(0) ?? 0), Int(select.int64(1) ?? 0)))
    }
    return out
  }
}
