import AudienceCore
internal import CAudienceProto

/// `audience.v1.PersonRef` <-> `PersonRef`: exactly one of cookie and email.
enum ProtoPerson {
  static func decode(_ p: UnsafeMutablePointer<Audience__V1__PersonRef>?) throws(AudienceError) -> PersonRef {
    let cookie = try CStrings.read(p?.pointee.cookie, "person.cookie").trimmingWhitespace()
    let email = try CStrings.read(p?.pointee.email, "person.email").trimmingWhitespace()
    switch (cookie.isEmpty, email.isEmpty) {
    case (false, true): return .cookie(cookie)
    case (true, false): return .email(email.lowercased())
    case (true, true): throw .invalidField("person", "give a cookie or an email")
    case (false, false): throw .invalidField("person", "give a cookie or an email, not both")
    }
  }

  static func encode(_ person: PersonRef, _ arena: Arena) -> UnsafeMutablePointer<Audience__V1__PersonRef> {
    let p = arena.allocate(Audience__V1__PersonRef.self)
    audience__v1__person_ref__init(p)
    switch person {
    case .cookie(let c):
      p.pointee.cookie = arena.string(c)
      p.pointee.email = arena.string(nil)
    case .email(let e):
      p.pointee.cookie = arena.string(nil)
      p.pointee.email = arena.string(e)
    }
    return p
  }
}
