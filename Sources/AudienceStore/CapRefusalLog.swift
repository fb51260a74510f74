import AudienceCore

/// The log of the identifier cap's refusals (IdentityGraph+CapRefusals.swift), and of the
/// records each split applied again, in the embedded database.
enum CapRefusalLog {
  static let schema = """
    -- Email links the identifier cap refused: the record, and the application (0 when stored,
    -- else the splits row whose rebuild refused it). A replay refuses them again.
    CREATE TABLE IF NOT EXISTS cap_refusals (
      seq INTEGER NOT NULL, application INTEGER NOT NULL, PRIMARY KEY (seq, application)) WITHOUT ROWID;
    -- The records each split applied again (its profile's, when it was split); a forget deletes
    -- its records' rows by seq.
    CREATE TABLE IF NOT EXISTS split_records (
      split INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (split, seq)) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS split_records_seq ON split_records(seq);
    -- Email links made live that a replay makes again without asking the cap: a forget that
    -- erased a split moved its rebuild's decisions to where a replay applies the records.
    CREATE TABLE IF NOT EXISTS cap_links (
      seq INTEGER NOT NULL, application INTEGER NOT NULL, PRIMARY KEY (seq, application)) WITHOUT ROWID;
    """

  /// The `meta` key of the identifier cap the logged refusals were decided under.
  static let capKey = "cap_refusals_cap"

  /// The cap the log was made under; nil for a database from before it was noted.
  static func loggedCap(_ db: SQLiteDatabase) throws(AudienceError) -> Int? {
    let rows = try db.prepare("SELECT value FROM meta WHERE key = '\(capKey)'")
    guard try rows.step(), let text = rows.text(0) else { return nil }
    return Int(text)
  }

  /// Replaces the log with the refusals a replay under `cap` decided afresh, and notes the cap:
  /// refusals made under another cap are not this cap's (a start with a lower cap, then one
  /// with the default, would otherwise keep people apart for good).
  static func replace(with refusals: [IdentityGraph.CapRefusal], cap: Int, in db: SQLiteDatabase) throws(AudienceError) {
    try db.transaction { () throws(AudienceError) in
      try db.execute("DELETE FROM cap_refusals")
      try db.execute("DELETE FROM cap_links")
      try write(refusals, to: db)
      try db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('\(capKey)', '\(cap)')")
    }
  }

  /// Every refusal logged.
  static func read(_ db: SQLiteDatabase) throws(AudienceError) -> [IdentityGraph.CapRefusal] {
    try decisions(in: "cap_refusals", db)
  }

  /// Every link logged as made past the cap (`cap_links`).
  static func readLinks(_ db: SQLiteDatabase) throws(AudienceError) -> [IdentityGraph.CapRefusal] {
    try decisions(in: "cap_links", db)
  }

  /// The (seq, application) rows of `cap_refusals` or `cap_links`.
  private static func decisions(in table: String, _ db: SQLiteDatabase) throws(AudienceError) -> [IdentityGraph.CapRefusal] {
    let rows = try db.prepare("SELECT seq, application FROM \(table)")
    var out: [IdentityGraph.CapRefusal] = []
    while try rows.step() {
      out.append(.init(seq: UInt64(bitPattern: rows.int64(0) ?? 0), application: UInt64(bitPattern: rows.int64(1) ?? 0)))
    }
    return out
  }

  /// Logs refusals (in the caller's transaction).
  static func write(_ refusals: [IdentityGraph.CapRefusal], to db: SQLiteDatabase) throws(AudienceError) {
    try step("INSERT OR IGNORE INTO cap_refusals(seq, application) VALUES (?, ?)", refusals, db)
  }

  /// Logs the records split `row` is about to apply again (in the caller's transaction).
  static func writeSplit(_ row: UInt64, records seqs: [UInt64], to db: SQLiteDatabase) throws(AudienceError) {
    try db.prepare("INSERT OR IGNORE INTO split_records(split, seq) VALUES (?, ?)").stepEach(seqs) {
      $0.bind(1, Int64(bitPattern: row))
      $0.bind(2, Int64(bitPattern: $1))
    }
  }

  /// A forget's part (in its transaction): erased records' rows go; so do the erased cookies'
  /// splits, whose rebuilds a replay will not make again.
  ///
  /// Under the identifier cap, a split's rebuild decided its records' links afresh, and the live
  /// graph keeps those decisions; a replay makes an erased split's rebuild nowhere, and a split
  /// that stays but loses records may no longer reach some of the others there. So each record a
  /// replay applies elsewhere than where its last decision was made, and each record of those
  /// records' live profiles, has its last decision made in the last application of it the replay
  /// makes (0 when stored, or the last split that stays, applied it again and still reaches it)
  /// and in each later split that stays: a refusal as a refusal, a link as a link made past the
  /// cap (`cap_links`), as those profiles may be larger in the replay than they were live. A
  /// split cookie's records are left as they are: from its split on they link no email, in a
  /// replay too. Nothing is logged where the cap refused nothing. (Before, an erased split's
  /// records lost their refusals and were decided afresh: 8 of 200 random histories under a cap
  /// of 5 linked other emails after a crash, none now; docs/STORAGE.md.)
  /// - Parameters:
  ///   - seqs: the erased records.
  ///   - cookies: the erased cookies (a split of one goes).
  ///   - replay: what a replay makes of the splits (`SplitReplay.read(whenNeeded:...)`): nil when
  ///     no refusal is logged, so the cap decided nothing a replay could decide otherwise.
  ///   - profileRecords: every record of the live profiles holding these records
  ///     (`IdentityGraph.profileRecords(holding:)`).
  ///   - identifiers: the cookie and email of stored records (`IdentityGraph.identifiers(of:)`).
  static func erase(
    records seqs: [UInt64], cookies: [String], replay: SplitReplay?, profileRecords: ([UInt64]) -> [UInt64],
    identifiers: ([UInt64]) -> [(cookie: String, email: String?)?], in db: SQLiteDatabase
  ) throws(AudienceError) {
    if let replay, try anyRefusal(db) {
      try fixDecisions(replay, profileRecords: profileRecords, identifiers: identifiers, in: db)
    }
    let erasedSplits: Set<UInt64>
    if let replay { erasedSplits = replay.erased } else { erasedSplits = try SplitReplay.rows(of: cookies, in: db) }
    for table in ["cap_refusals", "cap_links", "split_records"] {
      try db.prepare("DELETE FROM \(table) WHERE seq = ?").stepEach(seqs) { $0.bind(1, Int64(bitPattern: $1)) }
    }
    for sql in [
      "DELETE FROM cap_refusals WHERE application = ?1",
      "DELETE FROM cap_links WHERE application = ?1",
      "DELETE FROM split_records WHERE split = ?1",
    ] {
      try db.prepare(sql).stepEach(erasedSplits) { $0.bind(1, Int64(bitPattern: $1)) }
    }
  }

  /// Whether any refusal is logged.
  static func anyRefusal(_ db: SQLiteDatabase) throws(AudienceError) -> Bool {
    let rows = try db.prepare("SELECT 1 FROM cap_refusals LIMIT 1")
    defer { rows.reset() }
    return try rows.step()
  }

  /// Makes the last live decision of each record a replay applies elsewhere than where that
  /// decision was made (an erased split, or a split that stays and no longer reaches it), and of
  /// every other record of those records' live profiles, in the last application of it the
  /// replay makes and in each later split that stays (see `erase`).
  private static func fixDecisions(
    _ replay: SplitReplay, profileRecords: ([UInt64]) -> [UInt64],
    identifiers: ([UInt64]) -> [(cookie: String, email: String?)?], in db: SQLiteDatabase
  ) throws(AudienceError) {
    let applications = replay.applications
    let erased = replay.erased
    let splitCookies = Set(replay.kept.map(\.cookie))
    let moved = applications.keys.filter { replay.replayed($0) != applications[$0]!.max()! }
    guard !moved.isEmpty else { return }
    let refusals = Set(try read(db))
    let all = profileRecords(moved)
    // Where the cap refused nothing in those profiles (nor in the erased rebuilds), the replay
    // decides their links as live: nothing to log.
    let members = Set(all)
    guard refusals.contains(where: { members.contains($0.seq) || erased.contains($0.application) }) else { return }
    let links = Set(try readLinks(db))
    var refuse: [IdentityGraph.CapRefusal] = []
    var link: [IdentityGraph.CapRefusal] = []
    for (seq, record) in zip(all, identifiers(all)) {
      // A record without an email has no link to decide; a split cookie's links none from its
      // split on, in a replay too.
      guard let record, record.email != nil, !splitCookies.contains(record.cookie) else { continue }
      let last = IdentityGraph.CapRefusal(seq: seq, application: applications[seq]?.max() ?? 0)
      let kept = IdentityGraph.CapRefusal(seq: seq, application: replay.replayed(seq))
      // Also in each later split that stays: a replay may join the record to that split's
      // profile sooner than live (where its decision is made now), and apply it again there.
      let later = replay.kept.filter { $0.row > kept.application && $0.after >= seq }.map {
        IdentityGraph.CapRefusal(seq: seq, application: $0.row)
      }
      // A blocked email has no cap decision: a link logged for it only skips the cap.
      for decision in [kept] + later {
        if refusals.contains(last) {
          if !refusals.contains(decision) { refuse.append(decision) }
        } else if !links.contains(decision) {
          link.append(decision)
        }
      }
    }
    try step("DELETE FROM cap_refusals WHERE seq = ? AND application = ?", link, db)
    try step("DELETE FROM cap_links WHERE seq = ? AND application = ?", refuse, db)
    try step("INSERT OR IGNORE INTO cap_refusals(seq, application) VALUES (?, ?)", refuse, db)
    try step("INSERT OR IGNORE INTO cap_links(seq, application) VALUES (?, ?)", link, db)
  }

  /// Runs `sql` once for each decision, its seq and application bound.
  private static func step(_ sql: String, _ decisions: [IdentityGraph.CapRefusal], _ db: SQLiteDatabase) throws(AudienceError) {
    guard !decisions.isEmpty else { return }
    try db.prepare(sql).stepEach(decisions) {
      $0.bind(1, Int64(bitPattern: $1.seq))
      $0.bind(2, Int64(bitPattern: $1.application))
    }
  }
}
