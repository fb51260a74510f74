import AudienceCore
internal import CAudienceProto
internal import Glibc

/// `audience.v1.Record` <-> Swift.
enum ProtoRecord {
  /// A record as sent, for the server to validate. Each field is read into a local and the
  /// record made once at the end: filling in a `var` record between throwing reads made the
  /// optimizer copy the whole record (a retain and a release of each string) at the return.
  static func decode(_ p: UnsafeMutablePointer<Audience__V1__Record>) throws(AudienceError) -> RawRecord {
    let m = p.pointee
    let cookie = try CStrings.read(m.cookie, "data.cookie")
    let email = try CStrings.read(m.email, "data.email")
    let phoneNumber = try CStrings.read(m.phone_number, "data.phone_number")
    let createdAt = try CStrings.read(m.created_at, "data.created_at")
    var state = "", country = "", city = ""
    if let l = m.location?.pointee {
      state = try CStrings.read(l.state, "data.location.state")
      country = try CStrings.read(l.country, "data.location.country")
      city = try CStrings.read(l.city, "data.location.city")
    }
    var age: Int?
    var gender = "", income = "", education = ""
    if let d = m.demographics?.pointee {
      if d.age_present_case == AUDIENCE__V1__DEMOGRAPHICS__AGE_PRESENT_AGE { age = Int(d.age) }
      gender = try CStrings.read(d.gender, "data.demographics.gender")
      income = try CStrings.read(d.income, "data.demographics.income")
      education = try CStrings.read(d.education, "data.demographics.education")
    }
    let interests = try CStrings.read(m.n_interests, m.interests, "data.interests")
    return RawRecord(
      cookie: cookie, email: email, phoneNumber: phoneNumber, createdAt: createdAt, state: state, country: country,
      city: city, age: age, gender: gender, income: income, education: education, interests: interests)
  }

  /// A normalized record or profile view, as the server returns it (empty strings are absent).
  static func decodeView(_ p: UnsafeMutablePointer<Audience__V1__Record>) throws(AudienceError) -> Record {
    let m = p.pointee
    func opt(_ s: UnsafeMutablePointer<CChar>?, _ field: @autoclosure () -> String) throws(AudienceError) -> String? {
      guard let s, s.pointee != 0 else { return nil }
      return try CStrings.read(s, field())
    }
    var r = Record(
      cookie: try CStrings.read(m.cookie, "data.cookie"), email: try opt(m.email, "data.email"),
      phoneNumber: try opt(m.phone_number, "data.phone_number"),
      createdAt: m.created_at.flatMap { c in
        Timestamp(utf8: UnsafeBufferPointer(start: UnsafeRawPointer(c).assumingMemoryBound(to: UInt8.self), count: strlen(c)))
      },
      interests: try CStrings.read(m.n_interests, m.interests, "data.interests"))
    if let l = m.location?.pointee {
      r.location = Location(
        state: try opt(l.state, "data.location.state"), country: try opt(l.country, "data.location.country"),
        city: try opt(l.city, "data.location.city"))
    }
    if let d = m.demographics?.pointee {
      r.demographics = Demographics(
        age: d.age_present_case == AUDIENCE__V1__DEMOGRAPHICS__AGE_PRESENT_AGE ? Int(d.age) : nil,
        gender: try opt(d.gender, "data.demographics.gender"), income: try opt(d.income, "data.demographics.income"),
        education: try opt(d.education, "data.demographics.education"))
    }
    return r
  }

  static func encode(_ r: RawRecord, _ arena: Arena) -> UnsafeMutablePointer<Audience__V1__Record> {
    let m = arena.allocate(Audience__V1__Record.self)
    audience__v1__record__init(m)
    m.pointee.cookie = arena.string(r.cookie)
    m.pointee.email = arena.string(r.email)
    m.pointee.phone_number = arena.string(r.phoneNumber)
    m.pointee.created_at = arena.string(r.createdAt)
    let l = arena.allocate(Audience__V1__Location.self)
    audience__v1__location__init(l)
    l.pointee.state = arena.string(r.state)
    l.pointee.country = arena.string(r.country)
    l.pointee.city = arena.string(r.city)
    m.pointee.location = l
    let d = arena.allocate(Audience__V1__Demographics.self)
    audience__v1__demographics__init(d)
    if let age = r.age {
      d.pointee.age_present_case = AUDIENCE__V1__DEMOGRAPHICS__AGE_PRESENT_AGE
      d.pointee.age = Int32(clamping: age)
    }
    d.pointee.gender = arena.string(r.gender)
    d.pointee.income = arena.string(r.income)
    d.pointee.education = arena.string(r.education)
    m.pointee.demographics = d
    m.pointee.n_interests = r.interests.count
    m.pointee.interests = arena.strings(r.interests)
    return m
  }

  static func encode(_ r: Record, _ arena: Arena) -> UnsafeMutablePointer<Audience__V1__Record> {
    encode(
      RawRecord(
        cookie: r.cookie, email: r.email ?? "", phoneNumber: r.phoneNumber ?? "",
        createdAt: r.createdAt?.iso8601 ?? "", state: r.location.state ?? "", country: r.location.country ?? "",
        city: r.location.city ?? "", age: r.demographics.age, gender: r.demographics.gender ?? "",
        income: r.demographics.income ?? "", education: r.demographics.education ?? "", interests: r.interests),
      arena)
  }
}
