import AudienceCore
import CMongoc
internal import Glibc

/// A BSON document owned by Swift: built from a `JSONValue` object (integers become int64),
/// read back as one (through libbson's relaxed extended JSON).
final class BSON {
  let ptr: OpaquePointer

  /// An empty document.
  init() { ptr = bson_new() }

  /// Takes ownership of a document libbson allocated.
  init(owning ptr: OpaquePointer) { self.ptr = ptr }

  /// A document with the members of `object`.
  /// - Parameters:
  ///   - object: a `.object`; anything else gives an empty document.
  convenience init(_ object: JSONValue) {
    self.init()
    if case .object(let members) = object {
      for (key, value) in members { Self.append(ptr, key, value) }
    }
  }

  deinit { bson_destroy(ptr) }

  private static func append(_ doc: OpaquePointer, _ key: String, _ value: JSONValue) {
    let k = Int32(key.utf8.count)
    switch value {
    case .null: bson_append_null(doc, key, k)
    case .bool(let b): bson_append_bool(doc, key, k, b)
    case .int(let n): bson_append_int64(doc, key, k, n)
    case .double(let d): bson_append_double(doc, key, k, d)
    case .string(let s): bson_append_utf8(doc, key, k, s, Int32(s.utf8.count))
    case .object(let members):
      let child = bson_new()!
      for (ck, cv) in members { append(child, ck, cv) }
      bson_append_document(doc, key, k, child)
      bson_destroy(child)
    case .array(let items):
      let child = bson_new()!
      for (i, item) in items.enumerated() { append(child, String(i), item) }
      bson_append_array(doc, key, k, child)
      bson_destroy(child)
    }
  }

  /// A document libbson owns, as a `JSONValue` object; nil when it cannot be read (it is not
  /// valid BSON or UTF-8): callers treat that as a failed call, never as an empty reply.
  static func json(_ doc: OpaquePointer) -> JSONValue? {
    var length = 0
    guard let text = bson_as_relaxed_extended_json(doc, &length) else { return nil }
    defer { bson_free(text) }
    return try? JSONValue(parsing: String(cString: text))
  }
}

/// Raw storage for the `bson_t` reply out-parameters of libmongoc (128-byte aligned, initialized
/// empty, destroyed after).
final class BSONReply {
  let raw: UnsafeMutableRawPointer
  var ptr: OpaquePointer { OpaquePointer(raw) }

  init() {
    raw = UnsafeMutableRawPointer.allocate(byteCount: 256, alignment: 128)
    raw.initializeMemory(as: UInt8.self, repeating: 0, count: 256)
    bson_init(OpaquePointer(raw))
  }

  deinit {
    bson_destroy(ptr)
    raw.deallocate()
  }

  var json: JSONValue? { BSON.json(ptr) }
}

extension JSONValue {
  /// A member's integer value (int or whole double), nil otherwise.
  func int(_ key: String) -> Int64? {
    switch self[key] {
    case .int(let n)?: n
    case .double(let d)? where d == d.rounded() && abs(d) < 9e15: Int64(d)
    default: nil
    }
  }

  /// A member's string value.
  func string(_ key: String) -> String? {
    if case .string(let s)? = self[key] { return s }
    return nil
  }

  /// A member's array of strings (non-strings skipped); empty when absent.
  func strings(_ key: String) -> [String] {
    guard case .array(let items)? = self[key] else { return [] }
    return items.compactMap { if case .string(let s) = $0 { s } else { nil } }
  }

  /// A member's array.
  func array(_ key: String) -> [JSONValue] {
    if case .array(let items)? = self[key] { return items }
    return []
  }
}
