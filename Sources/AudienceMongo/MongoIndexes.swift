import AudienceCore

/// The indexes the store needs, created at start-up (on the first request that reaches MongoDB).
/// `createIndexes` is idempotent, so every `audienced` sharing a database sends it.
enum MongoIndexes {
  /// (collection, key path, unique, sparse)
  static let all: [(String, String, Bool, Bool)] = [
    (MongoDocuments.users, "data.cookie", false, false),
    (MongoDocuments.users, "data.email", false, false),
    (MongoDocuments.unique, "cookies", true, false),
    (MongoDocuments.unique, "emails", true, true),
    (MongoDocuments.unique, "merging.cookies", false, true),
    (MongoDocuments.unique, "merging.emails", false, true),
    (MongoDocuments.unique, "splitting.cookies", false, true),
    (MongoDocuments.unique, "splitting.emails", false, true),
    (MongoDocuments.cohort, "data.email", false, false),
    (MongoDocuments.cohort, "data.cookie", false, false),
  ] + ["age", "gender", "country", "state", "city", "education", "income", "income_label", "interests", "category",
       "created", "seen", "cohort"].map { (MongoDocuments.unique, "q.\($0)", false, false) }

  static func create(_ s: MongoSession) throws {
    for collection in [MongoDocuments.users, MongoDocuments.unique, MongoDocuments.cohort] {
      let specs: [JSONValue] = all.filter { $0.0 == collection }.map { (_, path, unique, sparse) in
        var spec: [(String, JSONValue)] = [("key", .object([(path, .int(1))])), ("name", .string(path + "_1"))]
        if unique { spec.append(("unique", .bool(true))) }
        if sparse { spec.append(("sparse", .bool(true))) }
        return .object(spec)
      }
      try s.write(.object([("createIndexes", .string(collection)), ("indexes", .array(specs))]))
    }
  }
}

/// Counters shared by every writer (`counters` collection): profile ids and record sequence numbers.
enum MongoCounters {
  /// Reserves `count` consecutive numbers; returns the first (numbers start at 1).
  static func reserve(_ s: MongoSession, _ name: String, _ count: Int) throws -> UInt64 {
    let reply = try s.write(.object([
      ("findAndModify", .string(MongoDocuments.counters)), ("query", .object([("_id", .string(name))])),
      ("update", .object([("$inc", .object([("n", .int(Int64(count)))]))])), ("new", .bool(true)),
      ("upsert", .bool(true)),
    ]))
    guard let n = reply["value"]?.int("n") else {
      throw AudienceError(.internal, "MongoDB: findAndModify on counters returned no value")
    }
    return UInt64(n) - UInt64(count) + 1
  }
}
