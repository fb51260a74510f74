import AudienceCore
internal import CAudienceProto

/// `audience.v1.WatchEvent` <-> `WatchEvent`.
enum ProtoWatch {
  static func encode(_ event: WatchEvent, _ arena: Arena) -> UnsafeMutablePointer<Audience__V1__WatchEvent> {
    let w = arena.allocate(Audience__V1__WatchEvent.self)
    audience__v1__watch_event__init(w)
    switch event {
    case .started(let total):
      w.pointee.kind = AUDIENCE__V1__WATCH_EVENT_KIND__WATCH_EVENT_KIND_STARTED
      w.pointee.total = UInt64(total)
    case .enter(let id, let profile):
      w.pointee.kind = AUDIENCE__V1__WATCH_EVENT_KIND__WATCH_EVENT_KIND_ENTER
      w.pointee.profile_id = UInt64(id)
      w.pointee.data = ProtoRecord.encode(profile, arena)
    case .leave(let id, let profile, let into):
      w.pointee.kind = AUDIENCE__V1__WATCH_EVENT_KIND__WATCH_EVENT_KIND_LEAVE
      w.pointee.profile_id = UInt64(id)
      w.pointee.data = profile.map { ProtoRecord.encode($0, arena) }
      w.pointee.merged_into = into.map(UInt64.init) ?? 0
    case .ended:
      w.pointee.kind = AUDIENCE__V1__WATCH_EVENT_KIND__WATCH_EVENT_KIND_ENDED
    case .forgotten(let id):
      w.pointee.kind = AUDIENCE__V1__WATCH_EVENT_KIND__WATCH_EVENT_KIND_FORGOTTEN
      w.pointee.profile_id = UInt64(id)
    }
    return w
  }

  /// A LEAVE without data was a merge: `merged_into` names the survivor (0 is a valid id).
  static func decode(_ w: Audience__V1__WatchEvent) throws(AudienceError) -> WatchEvent {
    switch w.kind {
    case AUDIENCE__V1__WATCH_EVENT_KIND__WATCH_EVENT_KIND_STARTED:
      return .started(total: Int(clamping: w.total))
    case AUDIENCE__V1__WATCH_EVENT_KIND__WATCH_EVENT_KIND_ENTER:
      guard let data = w.data else { throw AudienceError(.internal, "ENTER event without the profile") }
      return .enter(ProfileID(clamping: w.profile_id), profile: try ProtoRecord.decodeView(data))
    case AUDIENCE__V1__WATCH_EVENT_KIND__WATCH_EVENT_KIND_LEAVE:
      let profile = try w.data.map { p throws(AudienceError) in try ProtoRecord.decodeView(p) }
      return .leave(ProfileID(clamping: w.profile_id), profile: profile, mergedInto: profile == nil ? ProfileID(clamping: w.merged_into) : nil)
    case AUDIENCE__V1__WATCH_EVENT_KIND__WATCH_EVENT_KIND_ENDED:
      return .ended
    case AUDIENCE__V1__WATCH_EVENT_KIND__WATCH_EVENT_KIND_FORGOTTEN:
      return .forgotten(ProfileID(clamping: w.profile_id))
    default:
      throw AudienceError(.internal, "watch event of unknown kind \(w.kind.rawValue)")
    }
  }
}
