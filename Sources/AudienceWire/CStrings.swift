import AudienceCore
internal import CUnpackArena

/// Reading protobuf-c strings into Swift: copied, and checked to be UTF-8 as proto3 requires.
enum CStrings {
  static func read(_ p: UnsafeMutablePointer<CChar>?, _ field: @autoclosure () -> String) throws(AudienceError) -> String {
    guard let p else { return "" }
    guard let s = String(validatingCString: p) else { throw .invalidField(field(), "is not valid UTF-8") }
    // protobuf-c ends each string at its first NUL for us; the arena knows how long it was.
    let sent = audience_unpack_arena_string_length(p)
    if sent >= 0, sent != s.utf8.count {
      throw .invalidField(field(), nulMessage(at: s.utf8.count, of: sent))
    }
    return s
  }

  /// Why a string holding a NUL byte is refused (the lazy page reader says the same).
  static func nulMessage(at offset: Int, of length: Int) -> String {
    RecordNormalizer.nulMessage(at: offset, of: length)
  }

  static func read(
    _ count: Int, _ p: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, _ field: String
  ) throws(AudienceError) -> [String] {
    guard let p, count > 0 else { return [] }
    var result: [String] = []
    result.reserveCapacity(count)
    for i in 0..<count { result.append(try read(p[i], "\(field)[\(i)]")) }
    return result
  }
}
