import AudienceCore

/// What a replay makes of the splits after a forget: which splits stay, and which records each
/// of them applies again there. Read once in the forget's transaction (from `splits` and
/// `split_records`, before the forget deletes its rows) and handed to the profile-id log
/// (`ProfileCreationLog.writeCreators`) and to the cap decisions (`CapRefusalLog.erase`), which
/// both need it.
///
/// A split that stays applies again, in a replay, the records it applied again live that stay,
/// unless it applied again an erased record too: then only those of them still joined to its
/// cookie's without the erased ones (`IdentityGraph.splitReach`; a record that only erased
/// records joined to the split cookie's profile is its own profile's by then).
struct SplitReplay {
  /// A split that stays.
  struct Split {
    /// Its `splits` row (the application number of its rebuild).
    var row: UInt64
    var cookie: String
    /// The last record stored before it.
    var after: UInt64
  }

  /// The splits that stay, in split order.
  private(set) var kept: [Split] = []
  private var keptRows = Set<UInt64>()
  /// The `splits` rows that go: the splits of the erased cookies.
  private(set) var erased = Set<UInt64>()
  /// The splits that stay and list no record (an older build's).
  private(set) var unlisted: [Split] = []
  /// By record that stays: the splits that applied it again live (those that go too), in order.
  private(set) var applications: [UInt64: [UInt64]] = [:]
  /// By record that stays: the last split that stays and applies it again in a replay.
  private(set) var lastKeptApplying: [UInt64: UInt64] = [:]

  /// - Parameters:
  ///   - gone: the records the forget erases.
  ///   - erasedCookies: the cookies it erases (their splits go).
  ///   - identifiers: the cookie and email of stored records (`IdentityGraph.identifiers(of:)`).
  init(
    erasing gone: Set<UInt64>, cookies erasedCookies: Set<String>,
    identifiers: ([UInt64]) -> [(cookie: String, email: String?)?], in db: SQLiteDatabase
  ) throws(AudienceError) {
    let splits = try db.prepare("SELECT cookie, rowid, after_seq FROM splits ORDER BY rowid")
    while try splits.step() {
      let row = UInt64(bitPattern: splits.int64(1) ?? 0)
      guard let cookie = splits.text(0) else { continue }
      if erasedCookies.contains(cookie) {
        erased.insert(row)
      } else {
        kept.append(Split(row: row, cookie: cookie, after: UInt64(bitPattern: splits.int64(2) ?? 0)))
        keptRows.insert(row)
      }
    }
    var records: [UInt64: [UInt64]] = [:]  // by split that stays: the records it applied again that stay
    var listed = Set<UInt64>()
    var lost = Set<UInt64>()  // splits that stay and applied an erased record again
    let rows = try db.prepare("SELECT split, seq FROM split_records ORDER BY split, seq")
    while try rows.step() {
      let split = UInt64(bitPattern: rows.int64(0) ?? 0)
      let seq = UInt64(bitPattern: rows.int64(1) ?? 0)
      let stays = keptRows.contains(split)
      guard stays || erased.contains(split) else { continue }
      if stays { listed.insert(split) }
      if gone.contains(seq) {
        if stays { lost.insert(split) }
        continue
      }
      applications[seq, default: []].append(split)
      if stays { records[split, default: []].append(seq) }
    }
    unlisted = kept.filter { !listed.contains($0.row) }
    var before = Set<String>()  // the cookies of the splits that stay before each
    for split in kept {
      defer { before.insert(split.cookie) }
      guard let seqs = records[split.row] else { continue }
      var reach = seqs
      if lost.contains(split.row) {
        let found = zip(seqs, identifiers(seqs)).compactMap { seq, r in r.map { (seq, $0.cookie, $0.email) } }
        reach = Array(IdentityGraph.splitReach(cookie: split.cookie, records: found, unlinked: before))
      }
      // Splits come in increasing order: the last one to reach a record is the highest.
      for seq in reach { lastKeptApplying[seq] = split.row }
    }
  }

  /// What a replay makes of the splits, when a log needs it: when a split goes (the profile-id
  /// log), or when the identifier cap refused a link (the cap decisions); nil otherwise.
  /// - Parameters:
  ///   - splitGone: the forget erases a split cookie.
  ///   - seqs: the records it erases.
  ///   - cookies: the cookies it erases.
  ///   - identifiers: the cookie and email of stored records (`IdentityGraph.identifiers(of:)`).
  static func read(
    whenNeeded splitGone: Bool, erasing seqs: [UInt64], cookies: [String],
    identifiers: ([UInt64]) -> [(cookie: String, email: String?)?], in db: SQLiteDatabase
  ) throws(AudienceError) -> SplitReplay? {
    // (Not `||` with `try`: its autoclosure throws an untyped error.)
    if !splitGone, try !CapRefusalLog.anyRefusal(db) { return nil }
    return try SplitReplay(erasing: Set(seqs), cookies: Set(cookies), identifiers: identifiers, in: db)
  }

  /// The `splits` rows of these cookies.
  static func rows(of cookies: [String], in db: SQLiteDatabase) throws(AudienceError) -> Set<UInt64> {
    let select = try db.prepare("SELECT rowid FROM splits WHERE cookie = ?")
    defer { select.reset() }
    var rows = Set<UInt64>()
    for cookie in cookies {
      select.reset()
      select.bind(1, cookie)
      while try select.step() { rows.insert(UInt64(bitPattern: select.int64(0) ?? 0)) }
    }
    return rows
  }

  /// Whether the split `row` stays.
  func keeps(_ row: UInt64) -> Bool { keptRows.contains(row) }

  /// The application in which a replay last applies this record: its last split that stays and
  /// still reaches it, or 0 (where it was stored).
  func replayed(_ seq: UInt64) -> UInt64 { lastKeptApplying[seq] ?? 0 }
}
