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
      try write(refusals, to: db)
      try db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('\(capKey)', '\(cap)')")
    }
  }

  /// Every refusal logged.
  static func read(_ db: SQLiteDatabase) throws(AudienceError) -> [IdentityGraph.CapRefusal] {
    let rows = try db.prepare("SELECT seq, application FROM cap_refusals")
    var out: [IdentityGraph.CapRefusal] = []
    while try rows.step() {
      out.append(.init(seq: UInt64(bitPattern: rows.int64(0) ?? 0), application: UInt64(bitPattern: rows.int64(1) ?? 0)))
    }
    return out
  }

  /// Logs refusals (in the caller's transaction).
  static func write(_ refusals: [IdentityGraph.CapRefusal], to db: SQLiteDatabase) throws(AudienceError) {
    guard !refusals.isEmpty else { return }
    try db.prepare("INSERT OR IGNORE INTO cap_refusals(seq, application) VALUES (?, ?)").stepEach(refusals) {
      $0.bind(1, Int64(bitPattern: $1.seq))
      $0.bind(2, Int64(bitPattern: $1.application))
    }
  }

  /// Logs the records split `row` is about to apply again (in the caller's transaction).
  static func writeSplit(_ row: UInt64, records seqs: [UInt64], to db: SQLiteDatabase) throws(AudienceError) {
    try db.prepare("INSERT OR IGNORE INTO split_records(split, seq) VALUES (?, ?)").stepEach(seqs) {
      $0.bind(1, Int64(bitPattern: row))
      $0.bind(2, Int64(bitPattern: $1))
    }
  }

  /// A forget's part (in its transaction): erased records' rows go; so do the erased cookies'
  /// splits, whose rebuilds a replay will not make again. The records such a split applied
  /// again and that stay lose their logged refusals (in every application): a replay decides
  /// their links afresh, as it did before this log. Keeping a refusal made before the split, or
  /// moving the split's own decision to the record's first application, can both replay links
  /// the live graph never made or refuse links it made (a review found cases of each).
  /// - Parameters:
  ///   - seqs: the erased records.
  ///   - cookies: the erased cookies (a split of one goes).
  static func erase(records seqs: [UInt64], cookies: [String], in db: SQLiteDatabase) throws(AudienceError) {
    for table in ["cap_refusals", "split_records"] {
      try db.prepare("DELETE FROM \(table) WHERE seq = ?").stepEach(seqs) { $0.bind(1, Int64(bitPattern: $1)) }
    }
    let select = try db.prepare("SELECT rowid FROM splits WHERE cookie = ?")
    var rows: [Int64] = []
    for cookie in cookies {
      select.reset()
      select.bind(1, cookie)
      if try select.step(), let row = select.int64(0) { rows.append(row) }
    }
    select.reset()
    for sql in [
      "DELETE FROM cap_refusals WHERE seq IN (SELECT seq FROM split_records WHERE split = ?1)",
      "DELETE FROM cap_refusals WHERE application = ?1",
      "DELETE FROM split_records WHERE split = ?1",
    ] {
      try db.prepare(sql).stepEach(rows) { $0.bind(1, $1) }
    }
  }
}
