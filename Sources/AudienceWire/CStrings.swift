import AudienceCore

/// Reading protobuf-c strings into Swift: copied, and checked to be UTF-8 as proto3 requires.
enum CStrings {
  static func read(_ p: UnsafeMutablePointer<CChar>?, _ field: @autoclosure () -> String) throws(AudienceError) -> String {
    guard let p else { return "" }
    guard let s = String(validatingCString: p) else { throw .invalidField(field(), "is not valid UTF-8") }
    return s
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
