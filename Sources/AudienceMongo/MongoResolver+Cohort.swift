import AudienceCore
import Logging

/// The `cohort` collection: the raw records of every email some person holds with two or more
/// cookies (docs/MONGODB.md).
extension MongoResolver {
  /// Brings `cohort` in line with the people for emails a forget or split may have left no
  /// longer repeated: an email that no person holds as repeated keeps no records there (they
  /// stayed: the cohort of an erased person's email still held the other cookie's records).
  /// Best effort, after an erasure or a split that is done: a failure must not answer the done
  /// operation as failed (the next record with the email syncs it), so it is logged.
  /// - Parameters:
  ///   - emails: the emails the erased or split person held.
  func resyncCohort(emails: Set<String>) {
    do {
      try resync(emails)
    } catch {
      store.logger.warning("cohort not brought up to date", metadata: ["store.error": "\(error)", "store.emails": "\(emails.count)"])
    }
  }

  private func resync(_ emails: Set<String>) throws {
    func repeated(_ email: String) throws -> Bool {
      let holder = try s.find(
        MongoDocuments.unique, .object([("emails", .string(email))]),
        .object([("limit", .int(1)), ("projection", .object([("repeated", .int(1))]))])
      ).first
      if holder?.strings("repeated").contains(email) == true { return true }
      // Held by a merge or a split in progress (between its steps no document lists it in
      // `emails`): left as it is; the writer that finishes it syncs the email.
      let moving = try s.find(
        MongoDocuments.unique,
        .object([("$or", .array([
          .object([("merging.emails", .string(email))]), .object([("splitting.emails", .string(email))]),
        ]))]),
        .object([("limit", .int(1)), ("projection", .object([("_id", .int(1))]))]))
      return !moving.isEmpty
    }
    for email in emails {
      if try repeated(email) {
        try syncCohort(email: email)
        continue
      }
      try s.write(.object([
        ("delete", .string(MongoDocuments.cohort)),
        ("deletes", .array([.object([("q", .object([("data.email", .string(email))])), ("limit", .int(0))])])),
      ]))
      // A writer that made it repeated meanwhile may have copied its records before the delete.
      if try repeated(email) { try syncCohort(email: email) }
    }
  }

  /// Copies the raw records of a repeated email into `cohort` (idempotent upserts).
  func syncCohort(email: String) throws {
    let records = try s.find(MongoDocuments.users, .object([("data.email", .string(email))]))
    guard Set(records.compactMap { $0["data"]?.string("cookie") }).count >= 2 else { return }
    let updates: [JSONValue] = records.map { doc in
      // Without the pending mark of a record being linked (the cohort copy is not unmarked).
      var copy = doc
      if case .object(let members) = doc { copy = .object(members.filter { $0.0 != "pending" }) }
      return .object([("q", .object([("_id", doc["_id"] ?? .null)])), ("u", copy), ("upsert", .bool(true))])
    }
    var start = 0
    while start < updates.count {
      let chunk = Array(updates[start..<min(start + 1000, updates.count)])
      try s.write(.object([("update", .string(MongoDocuments.cohort)), ("updates", .array(chunk)), ("ordered", .bool(false))]))
      start += chunk.count
    }
  }
}
