import AudienceCore
internal import CAudienceProto

/// `audience.v1.IngestResponse` and `ProfileSummary` <-> Swift.
enum ProtoIngest {
  static func encode(_ summary: IngestSummary, _ arena: Arena) -> UnsafeMutablePointer<Audience__V1__IngestResponse> {
    let r = arena.allocate(Audience__V1__IngestResponse.self)
    audience__v1__ingest_response__init(r)
    r.pointee.accepted = UInt32(summary.accepted)
    r.pointee.rejected = UInt32(summary.rejected)
    r.pointee.duplicates = UInt32(summary.duplicates)
    r.pointee.n_results = summary.outcomes.count
    r.pointee.results = arena.messages(Array(summary.outcomes.enumerated())) { index, outcome in
      let e = arena.allocate(Audience__V1__IngestResult.self)
      audience__v1__ingest_result__init(e)
      e.pointee.index = UInt32(index)
      switch outcome {
      case .created(let id): e.pointee.outcome = AUDIENCE__V1__INGEST_OUTCOME__INGEST_OUTCOME_CREATED; e.pointee.profile_id = UInt64(id)
      case .updated(let id): e.pointee.outcome = AUDIENCE__V1__INGEST_OUTCOME__INGEST_OUTCOME_UPDATED; e.pointee.profile_id = UInt64(id)
      case .duplicate(let id): e.pointee.outcome = AUDIENCE__V1__INGEST_OUTCOME__INGEST_OUTCOME_DUPLICATE; e.pointee.profile_id = UInt64(id)
      case .capped(let id, let reason):
        e.pointee.outcome = AUDIENCE__V1__INGEST_OUTCOME__INGEST_OUTCOME_CAPPED
        e.pointee.profile_id = UInt64(id)
        e.pointee.message = arena.string(reason)
      case .merged(let id, let absorbed):
        e.pointee.outcome = AUDIENCE__V1__INGEST_OUTCOME__INGEST_OUTCOME_MERGED
        e.pointee.profile_id = UInt64(id)
        let ids = arena.allocate(UInt64.self, count: absorbed.count)
        for (i, a) in absorbed.enumerated() { ids[i] = UInt64(a) }
        e.pointee.n_merged_profile_ids = absorbed.count
        e.pointee.merged_profile_ids = ids
      case .rejected(let error):
        e.pointee.outcome = AUDIENCE__V1__INGEST_OUTCOME__INGEST_OUTCOME_REJECTED
        e.pointee.code = Audience__V1__StatusCode(rawValue: UInt32(StatusCode(error.code).rawValue))
        e.pointee.message = arena.string(error.message)
        e.pointee.field = arena.string(error.field)
      }
      return e
    }
    return r
  }

  static func decode(_ p: UnsafeMutablePointer<Audience__V1__IngestResponse>) throws(AudienceError) -> IngestSummary {
    let r = p.pointee
    var outcomes: [IngestOutcome] = []
    outcomes.reserveCapacity(r.n_results)
    for i in 0..<r.n_results {
      let e = r.results[i]!.pointee
      let id = ProfileID(clamping: e.profile_id)
      switch e.outcome {
      case AUDIENCE__V1__INGEST_OUTCOME__INGEST_OUTCOME_CREATED: outcomes.append(.created(id))
      case AUDIENCE__V1__INGEST_OUTCOME__INGEST_OUTCOME_UPDATED: outcomes.append(.updated(id))
      case AUDIENCE__V1__INGEST_OUTCOME__INGEST_OUTCOME_DUPLICATE: outcomes.append(.duplicate(id))
      case AUDIENCE__V1__INGEST_OUTCOME__INGEST_OUTCOME_CAPPED:
        outcomes.append(.capped(id, reason: try CStrings.read(e.message, "message")))
      case AUDIENCE__V1__INGEST_OUTCOME__INGEST_OUTCOME_MERGED:
        let absorbed = (0..<e.n_merged_profile_ids).map { ProfileID(clamping: e.merged_profile_ids[$0]) }
        outcomes.append(.merged(id, absorbed: absorbed))
      default:
        let field = try CStrings.read(e.field, "field")
        let code = StatusCode(rawValue: Int(e.code.rawValue))
        outcomes.append(
          .rejected(
            AudienceError(
              code == .resourceExhausted ? .resourceExhausted : .invalidArgument,
              try CStrings.read(e.message, "message"), field: field.isEmpty ? nil : field)))
      }
    }
    return IngestSummary(outcomes: outcomes)
  }
}

enum ProtoProfile {
  static func encode(_ s: ProfileSummary, _ arena: Arena) -> UnsafeMutablePointer<Audience__V1__ProfileSummary> {
    let p = arena.allocate(Audience__V1__ProfileSummary.self)
    audience__v1__profile_summary__init(p)
    p.pointee.id = UInt64(s.id)
    p.pointee.n_cookies = s.cookies.count
    p.pointee.cookies = arena.strings(s.cookies)
    p.pointee.n_emails = s.emails.count
    p.pointee.emails = arena.strings(s.emails)
    p.pointee.records = UInt64(s.records)
    p.pointee.n_repeated_emails = s.repeatedEmails.count
    p.pointee.repeated_emails = arena.strings(s.repeatedEmails)
    p.pointee.first_seen = arena.string(s.firstSeen.iso8601)
    p.pointee.last_seen = arena.string(s.lastSeen.iso8601)
    return p
  }

  static func decode(_ p: UnsafeMutablePointer<Audience__V1__ProfileSummary>) throws(AudienceError) -> ProfileSummary {
    let s = p.pointee
    return ProfileSummary(
      id: ProfileID(clamping: s.id), cookies: try CStrings.read(s.n_cookies, s.cookies, "profile.cookies"),
      emails: try CStrings.read(s.n_emails, s.emails, "profile.emails"), records: Int(clamping: s.records),
      repeatedEmails: try CStrings.read(s.n_repeated_emails, s.repeated_emails, "profile.repeated_emails"),
      firstSeen: Timestamp(parsing: try CStrings.read(s.first_seen, "profile.first_seen")) ?? Timestamp(seconds: 0),
      lastSeen: Timestamp(parsing: try CStrings.read(s.last_seen, "profile.last_seen")) ?? Timestamp(seconds: 0))
  }
}
