import AudienceCore

/// Resolves records into person documents with compare-and-set writes (see `MongoStore`).
struct MongoResolver {
  let store: MongoStore
  let session: MongoSession
  var s: MongoSession { session }

  init(store: MongoStore, session: MongoSession) {
    self.store = store
    self.session = session
  }

  /// Links a stored raw record into its person and rewrites the person's document.
  /// - Parameters:
  ///   - record: the record, already in `users`.
  ///   - stored: whether it was there before this ingest (a duplicate).
  func resolve(_ record: StoredRecord, stored: Bool) throws -> IngestOutcome {
    let r = record.record
    for _ in 0..<MongoStore.maxAttempts {
      let rows = try people(cookie: r.cookie, email: r.email)
      if let unsettled = rows.first(where: \.unsettled) {
        try settle(unsettled)
        continue
      }
      let byCookie = rows.first { $0.cookies.contains(r.cookie) }
      let byEmail = r.email.flatMap { e in rows.first { $0.emails.contains(e) } }
      // Stored before: a duplicate, unless an earlier attempt stored it but stopped before
      // linking it (the person's document then counts fewer records than `users` holds).
      if stored, let p = byCookie, try isComplete(p) { return .duplicate(p.id) }
      let refusal =
        r.email == nil
        ? nil
        : try isSplit(r.cookie) ? IdentityGraph.splitRefusal(cookie: r.cookie) : IdentityGraph.capRefusal(
          byCookie: byCookie.map { ($0.id, $0.size) }, byEmail: byEmail.map { ($0.id, $0.size) },
          cap: store.limits.maxIdentifiersPerProfile)
      let email = refusal == nil ? r.email : nil
      let linked = refusal == nil ? byEmail : nil
      var outcome: IngestOutcome
      var written: JSONValue?
      switch (byCookie, linked) {
      case (nil, nil):
        let id = ProfileID(try MongoCounters.reserve(s, "profiles", 1) - 1)
        let row = PersonRow(id: id, version: 1, cookies: [r.cookie], emails: email.map { [$0] } ?? [])
        guard let doc = try insert(row) else { continue }
        written = doc
        outcome = .created(id)
      case (let a?, nil), (nil, let a?):
        guard let doc = try update(a, adding: r.cookie, email) else { continue }
        written = doc
        outcome = .updated(a.id)
      case (let a?, let b?) where a.id == b.id:
        guard let doc = try update(a, adding: r.cookie, email) else { continue }
        written = doc
        outcome = .updated(a.id)
      case (let a?, let b?):
        let (survivor, absorbed) = a.id < b.id ? (a, b) : (b, a)
        guard let marked = try markMerge(survivor, absorbing: absorbed), try finishMerge(marked) else { continue }
        outcome = .merged(survivor.id, absorbed: [absorbed.id])
      }
      // The cohort collection needs this record only when its email is now repeated (the written
      // document says so; after a merge, check).
      if let email, outcome.profileID != nil, written.map({ $0.strings("repeated").contains(email) }) ?? true {
        try syncCohort(email: email)
      }
      if let refusal, let target = outcome.profileID { outcome = .capped(target, reason: refusal) }
      return outcome
    }
    throw AudienceError(.unavailable, "MongoDB: gave up linking a record after \(MongoStore.maxAttempts) conflicting writes")
  }

  /// Whether a person's document accounts for every raw record of its cookies.
  private func isComplete(_ row: PersonRow) throws -> Bool {
    guard let doc = try s.find(
      MongoDocuments.unique, .object([("_id", .int(Int64(row.id)))]), .object([("projection", .object([("records", .int(1))]))])
    ).first else { return false }
    let stored = try s.count(
      MongoDocuments.users, .object([("data.cookie", .object([("$in", .array(row.cookies.map { .string($0) }))]))]))
    return Int(doc.int("records") ?? -1) == stored
  }

  /// The person documents holding a cookie or an email (also as the absorbed side of a merge).
  private func people(cookie: String, email: String?) throws -> [PersonRow] {
    var or: [JSONValue] = ["cookies", "merging.cookies", "splitting.cookies"].map { .object([($0, .string(cookie))]) }
    if let email {
      or += ["emails", "merging.emails", "splitting.emails"].map { .object([($0, .string(email))]) }
    }
    return try s.find(MongoDocuments.unique, .object([("$or", .array(or))]), .object([("projection", PersonRow.projection)]))
      .compactMap(PersonRow.init)
  }

  /// The document of a person, any merge it is part of finished first.
  func settledPerson(_ person: PersonRef) throws -> JSONValue? {
    let (fields, value): ([String], String) =
      switch person {
      case .cookie(let c): (["cookies", "merging.cookies", "splitting.cookies"], c)
      case .email(let e): (["emails", "merging.emails", "splitting.emails"], e.lowercased())
      }
    let filter: JSONValue = .object([("$or", .array(fields.map { .object([($0, .string(value))]) }))])
    for _ in 0..<MongoStore.maxAttempts {
      // Every match: a merge in progress shows the person twice (absorbed, and in the survivor's
      // intent); it is finished first, so the answer is the person as a whole.
      let docs = try s.find(MongoDocuments.unique, filter)
      if let unsettled = docs.compactMap(PersonRow.init).first(where: \.unsettled) {
        try settle(unsettled)
        continue
      }
      return docs.first
    }
    throw AudienceError(.unavailable, "MongoDB: a merge did not settle after \(MongoStore.maxAttempts) attempts")
  }

  /// Why an email names no person although stored records carry it, as the embedded store
  /// says it (`IdentityGraph.unlinkedEmail`); nil for a cookie, or an email on no record.
  /// - Parameters:
  ///   - person: the person asked for, who was not found.
  ///   - command: the CLI command to suggest.
  func unlinkedEmail(_ person: PersonRef, command: String) throws -> AudienceError? {
    guard case .email(let email) = person else { return nil }
    let e = email.lowercased()
    let cookies = try s.aggregate(MongoDocuments.users, [
      .object([("$match", .object([("data.email", .string(e))]))]),
      .object([("$group", .object([("_id", .string("$data.cookie"))]))]),
      .object([("$sort", .object([("_id", .int(1))]))]),
      .object([("$limit", .int(6))]),
    ]).compactMap { $0.string("_id") }
    return AudienceError.unlinkedEmail(
      e, holders: Array(cookies.prefix(5)), more: cookies.count > 5, blocked: store.limits.blockedIdentifiers.contains(e), command: command)
  }

  /// Replays a person's records.
  func replay(cookies: [String], emails: [String]) throws -> ProfileReplay {
    let docs = try s.find(
      MongoDocuments.users, .object([("data.cookie", .object([("$in", .array(cookies.map { .string($0) }))]))]))
    let records = docs.compactMap(MongoDocuments.stored)
    let split = try s.find(MongoDocuments.splits, .object([("_id", .object([("$in", .array(cookies.map { .string($0) }))]))]))
    guard
      let replay = ProfileReplay(
        records: records, emails: Set(emails), limits: store.limits, mainCookie: cookies[0],
        splitCookies: Set(split.compactMap { $0.string("_id") }))
    else {
      throw AudienceError(.internal, "MongoDB: profile of cookie \(cookies[0]) has no records in users")
    }
    return replay
  }

  /// The person's document with these identifiers, recomputed from their records.
  private func document(_ row: PersonRow) throws -> JSONValue {
    let replay = try replay(cookies: row.cookies, emails: row.emails)
    let doc = MongoDocuments.person(
      id: row.id, version: row.version, replay: replay, cookies: row.cookies, emails: row.emails,
      categories: store.categories)
    guard !row.splitting.isEmpty, case .object(let members) = doc else { return doc }
    return .object(members + [("splitting", .array(row.splitting.map(\.json)))])
  }

  /// Creates a person; returns the document, or nil when an identifier was taken meanwhile.
  private func insert(_ row: PersonRow) throws -> JSONValue? {
    let doc = try document(row)
    do {
      try s.write(.object([("insert", .string(MongoDocuments.unique)), ("documents", .array([doc]))]))
      return doc
    } catch let f as MongoFailure where f.isDuplicateKey {
      return nil
    }
  }

  enum Replaced { case done, changed, taken }

  /// Replaces a person's document if its version is still `expected`: `changed` when it is not,
  /// `taken` when another person holds one of the identifiers (error 11000).
  private func replace(_ row: PersonRow, expected: Int64) throws -> Replaced {
    try replace(row, with: try document(row), expected: expected)
  }

  private func replace(_ row: PersonRow, with doc: JSONValue, expected: Int64) throws -> Replaced {
    do {
      let reply = try s.write(.object([
        ("update", .string(MongoDocuments.unique)),
        ("updates", .array([.object([
          ("q", .object([("_id", .int(Int64(row.id))), ("v", .int(expected))])), ("u", doc),
        ])])),
      ]))
      return (reply.int("n") ?? 0) == 1 ? .done : .changed
    } catch let f as MongoFailure where f.isDuplicateKey {
      return .taken
    }
  }

  /// Adds a cookie and an email to a person; returns the document written, or nil when the
  /// person changed meanwhile.
  private func update(_ row: PersonRow, adding cookie: String, _ email: String?) throws -> JSONValue? {
    var next = row
    next.version += 1
    if !next.cookies.contains(cookie) { next.cookies.append(cookie) }
    if let email, !next.emails.contains(email) { next.emails.append(email) }
    let doc = try document(next)
    return try replace(next, with: doc, expected: row.version) == .done ? doc : nil
  }

  /// Records in the survivor that it absorbs `absorbed`; the survivor as marked, or nil when it changed.
  private func markMerge(_ survivor: PersonRow, absorbing absorbed: PersonRow) throws -> PersonRow? {
    let reply = try s.write(.object([
      ("update", .string(MongoDocuments.unique)),
      ("updates", .array([.object([
        ("q", .object([("_id", .int(Int64(survivor.id))), ("v", .int(survivor.version))])),
        ("u", .object([("$set", .object([("merging", absorbed.json), ("v", .int(survivor.version + 1))]))])),
      ])])),
    ]))
    guard (reply.int("n") ?? 0) == 1 else { return nil }
    var marked = survivor
    marked.version += 1
    marked.merging = absorbed
    return marked
  }

  /// Finishes a merge recorded in `survivor`: deletes the absorbed document (as recorded), then
  /// writes the survivor with both people's identifiers. False when another writer got there first.
  private func finishMerge(_ survivor: PersonRow) throws -> Bool {
    var survivor = survivor
    for _ in 0..<MongoStore.maxAttempts {
      guard let absorbed = survivor.merging else { return false }
      let deleted = try s.write(.object([
        ("delete", .string(MongoDocuments.unique)),
        ("deletes", .array([.object([
          ("q", .object([("_id", .int(Int64(absorbed.id))), ("v", .int(absorbed.version))])), ("limit", .int(1)),
        ])])),
      ]))
      if (deleted.int("n") ?? 0) == 0,
        let current = try s.find(MongoDocuments.unique, .object([("_id", .int(Int64(absorbed.id)))])).first.flatMap(PersonRow.init)
      {
        // The absorbed person is itself in a merge or a split: settle that first.
        if current.unsettled {
          try settle(current)
          continue
        }
        // The absorbed person changed since the merge began: record its identifiers as they are now.
        guard let remarked = try markMerge(survivor, absorbing: current) else { return false }
        survivor = remarked
        continue
      }
      var merged = PersonRow(
        id: survivor.id, version: survivor.version + 1, cookies: survivor.cookies, emails: survivor.emails)
      for c in absorbed.cookies where !merged.cookies.contains(c) { merged.cookies.append(c) }
      for e in absorbed.emails where !merged.emails.contains(e) { merged.emails.append(e) }
      switch try replace(merged, expected: survivor.version) {
      case .done:
        for e in absorbed.emails { try syncCohort(email: e) }
        return true
      case .changed:
        return false  // another writer finished it (or changed the survivor): read again
      case .taken:
        // Once the absorbed document was deleted, its identifiers were free in the unique indexes
        // until now, and another document took one: a person created at that moment, or another
        // survivor of the same person. Either way it is this person too: absorb it as well,
        // keeping every identifier of the first absorbed (dropping the merge here lost them).
        guard let holder = try holders(of: absorbed, besides: survivor.id).first else { continue }
        if holder.unsettled {
          try settle(holder)
          continue
        }
        var both = holder
        for c in absorbed.cookies where !both.cookies.contains(c) { both.cookies.append(c) }
        for e in absorbed.emails where !both.emails.contains(e) { both.emails.append(e) }
        guard let remarked = try markMerge(survivor, absorbing: both) else { return false }
        survivor = remarked
      }
    }
    return false
  }

  /// Whether a cookie was split off (`audience split`): its records do not link their emails.
  private func isSplit(_ cookie: String) throws -> Bool {
    try s.count(MongoDocuments.splits, .object([("_id", .string(cookie))])) > 0
  }

  /// Finishes the merge or split a person is in.
  private func settle(_ row: PersonRow) throws {
    if row.merging != nil { _ = try finishMerge(row) } else { try finishSplit(row) }
  }

  /// Detaches a cookie from its person: records the split, then rebuilds the person from its
  /// records with the cookie's email links refused. The part holding the person's first cookie
  /// keeps its id; every other part becomes a person of its own. Crash-safe like a merge: the
  /// reduced person is written first with the parts to create (`splitting`), then they are
  /// created, then the intent is removed; anyone meeting the intent finishes it.
  /// - Returns: the people it became, the cookie's first; nil for an unknown cookie.
  func split(cookie: String) throws -> [ProfileSummary]? {
    let marked = try s.write(.object([
      ("update", .string(MongoDocuments.splits)),
      ("updates", .array([.object([
        ("q", .object([("_id", .string(cookie))])), ("u", .object([("$set", .object([("_id", .string(cookie))]))])),
        ("upsert", .bool(true)),
      ])])),
    ]))
    for _ in 0..<MongoStore.maxAttempts {
      guard let doc = try settledPerson(.cookie(cookie)), let row = PersonRow(doc) else {
        // Nobody has the cookie: NOT_FOUND, and nothing kept (as the embedded store): the mark
        // written just now goes, or the cookie's later records would never link their emails.
        if case .array(let upserted)? = marked["upserted"], !upserted.isEmpty {
          try s.write(.object([
            ("delete", .string(MongoDocuments.splits)),
            ("deletes", .array([.object([("q", .object([("_id", .string(cookie))])), ("limit", .int(1))])])),
          ]))
        }
        return nil
      }
      let parts = try replay(cookies: row.cookies, emails: row.emails).graph.components(of: row.cookies)
      // One part can still have changed: a profile of one cookie keeps it, but not the emails its
      // records linked (they were left on the document, and joined later records to it).
      guard parts.count > 1 || Set(parts.first?.emails ?? []) != Set(row.emails) else {
        return [MongoDocuments.summary(doc)].compactMap { $0 }
      }
      var keep = PersonRow(id: row.id, version: row.version + 1, cookies: parts[0].cookies, emails: parts[0].emails)
      var created: [PersonRow] = []
      for part in parts.dropFirst() {
        let id = ProfileID(try MongoCounters.reserve(s, "profiles", 1) - 1)
        created.append(PersonRow(id: id, version: 1, cookies: part.cookies, emails: part.emails))
      }
      keep.splitting = created
      guard try replace(keep, expected: row.version) == .done else { continue }
      try finishSplit(keep)
      resyncCohort(emails: Set(row.emails))
      let ids = [keep.id] + created.map(\.id)
      let docs = try s.find(MongoDocuments.unique, .object([("_id", .object([("$in", .array(ids.map { .int(Int64($0)) }))]))]))
      let summaries = docs.compactMap(MongoDocuments.summary)
      let own = summaries.filter { $0.cookies.contains(cookie) }
      return own + summaries.filter { !$0.cookies.contains(cookie) }.sorted { $0.id < $1.id }
    }
    throw AudienceError(.unavailable, "MongoDB: gave up splitting after \(MongoStore.maxAttempts) conflicting writes")
  }

  /// Creates the people a split recorded (those not created yet), then removes the intent.
  private func finishSplit(_ row: PersonRow) throws {
    for part in row.splitting {
      do {
        try s.write(.object([("insert", .string(MongoDocuments.unique)), ("documents", .array([try document(part)]))]))
      } catch let f as MongoFailure where f.isDuplicateKey {
        // Created already (by us before a crash, or by another writer finishing this split).
      }
    }
    try clearIntent("splitting", of: row)
  }

  /// The other person documents holding one of these identifiers.
  private func holders(of row: PersonRow, besides id: ProfileID) throws -> [PersonRow] {
    let filter: JSONValue = .object([
      ("_id", .object([("$ne", .int(Int64(id)))])),
      ("$or", .array([
        .object([("cookies", .object([("$in", .array(row.cookies.map { .string($0) }))]))]),
        .object([("emails", .object([("$in", .array(row.emails.map { .string($0) }))]))]),
      ])),
    ])
    return try s.find(MongoDocuments.unique, filter, .object([("projection", PersonRow.projection)])).compactMap(PersonRow.init)
  }

  /// Removes a recorded intent (`merging` or `splitting`) from a person, compare-and-set on the
  /// version it was read at.
  private func clearIntent(_ field: String, of row: PersonRow) throws {
    try s.write(.object([
      ("update", .string(MongoDocuments.unique)),
      ("updates", .array([.object([
        ("q", .object([("_id", .int(Int64(row.id))), ("v", .int(row.version))])),
        ("u", .object([("$unset", .object([(field, .string(""))])), ("$set", .object([("v", .int(row.version + 1))]))])),
      ])])),
    ]))
  }
}

extension IngestOutcome {
  /// The person the record went to.
  var profileID: ProfileID? {
    switch self {
    case .created(let id), .updated(let id), .merged(let id, _), .duplicate(let id), .capped(let id, _): id
    case .rejected: nil
    }
  }
}
