/// Dictionary encoding of one attribute: each distinct value gets a small code (0 means
/// absent), and each folded (trimmed, lower-cased) form lists the codes that fold to it, so a
/// case-insensitive predicate becomes a few code lookups.
struct ValueDictionary: Sendable {
  private(set) var values: [String] = [""]
  private var codes: [String: UInt32] = [:]
  private var folded: [String: [UInt32]] = [:]

  init() {}

  /// The dictionary whose values (code order, "" first) these are.
  init(values: [String]) {
    for v in values.dropFirst() { _ = code(for: v) }
  }

  /// The value's code, assigning the next one to a new value.
  mutating func code(for value: String) -> UInt32 {
    if let c = codes[value] { return c }
    let c = UInt32(values.count)
    values.append(value)
    codes[value] = c
    folded[Filter.fold(value), default: []].append(c)
    return c
  }

  /// Codes of the values that fold to `foldedValue` (already folded).
  func codes(folded foldedValue: String) -> [UInt32] { folded[foldedValue] ?? [] }

  var count: Int { values.count }

  /// Approximate bytes held (strings counted by their UTF-8 length plus overhead).
  var memoryBytes: Int { values.reduce(0) { $0 + $1.utf8.count + 48 } * 2 }
}
