import AudienceCore

/// Plain-text renderings for people (without --json).
enum Human {
  static func user(_ u: UserView) -> String {
    let d = u.data
    let s = u.summary
    var lines: [String] = []
    lines.append("cookie      \(d.cookie)")
    lines.append("email       \(d.email ?? "-")")
    lines.append("phone       \(d.phoneNumber ?? "-")")
    lines.append("created_at  \(d.createdAt?.iso8601 ?? "-")")
    lines.append("location    \(place(d))")
    lines.append("age         \(d.demographics.age.map(String.init) ?? "-")")
    lines.append("gender      \(d.demographics.gender ?? "-")")
    lines.append("income      \(d.demographics.income ?? "-")")
    lines.append("education   \(d.demographics.education ?? "-")")
    lines.append("interests   \(d.interests.isEmpty ? "-" : d.interests.joined(separator: ", "))")
    lines.append("profile     #\(s.id): \(s.records) record(s), first seen \(s.firstSeen.iso8601), last seen \(s.lastSeen.iso8601)")
    lines.append("cookies     \(s.cookies.joined(separator: ", "))")
    lines.append("emails      \(s.emails.isEmpty ? "-" : s.emails.joined(separator: ", "))")
    if !s.repeatedEmails.isEmpty { lines.append("cohort      \(s.repeatedEmails.joined(separator: ", ")) (seen with several cookies)") }
    return lines.joined(separator: "\n")
  }

  static func place(_ d: Record) -> String {
    let parts = [d.location.city, d.location.state, d.location.country].compactMap { $0 }
    return parts.isEmpty ? "-" : parts.joined(separator: ", ")
  }

  static func page(_ p: CohortPage) -> String {
    var lines = ["\(p.total) matching user(s)" + (p.users.count < p.total ? ", showing \(p.users.count)" : "")]
    lines += p.users.map(user)
    if let c = p.nextCursor { lines.append("more: --cursor \(c)") }
    return lines.joined(separator: "\n")
  }

  /// One user of a page, on one line.
  static func user(_ u: Record) -> String {
    let age = u.demographics.age.map(String.init) ?? "?"
    let interests = u.interests.prefix(5).joined(separator: ", ")
    return "  \(u.cookie)  \(u.email ?? "-")  age \(age)  \(u.demographics.gender ?? "-")  \(place(u))  [\(interests)]"
  }
}
