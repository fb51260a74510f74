/// Dictionary encoding of one attribute: each distinct value gets a small code (0 means
/// absent), and each folded (trimmed, lower-cased) form lists the codes that fold to it, so a
/// case-insensitive predicate becomes a few code lookups.
///
/// Every indexed record looks up each of its values (six columns and its interests), so the
/// lookup goes first to `spellings`, a `DenseTable` keyed by the exact spelling with a cheap hash
/// (`SpellingKey`), and only a spelling it has not seen goes to `codes`, the `Dictionary` that
/// decides which values are the same (`String` equality: canonically equivalent spellings share
/// a code).
struct ValueDictionary: Sendable {
  private(set) var values: [String] = [""]
  private var codes: [String: UInt32] = [:]
  private var spellings = DenseTable<SpellingKey, UInt32>()
  private var folded: [String: [UInt32]] = [:]

  init() {}

  /// The dictionary whose values (code order, "" first) these are.
  init(values: [String]) {
    for v in values.dropFirst() { _ = code(for: v) }
  }

  /// The value's code, assigning the next one to a new value.
  mutating func code(for value: String) -> UInt32 {
    let key = SpellingKey(value)
    if let c = spellings[key] { return c }
    let c = codes[value] ?? assign(value)
    spellings[key] = c
    return c
  }

  private mutating func assign(_ value: String) -> UInt32 {
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
  var memoryBytes: Int { values.reduce(0) { $0 + $1.utf8.count + 48 } * 3 }
}

/// A value's spelling with a hash of its UTF-8 bytes that is cheap for short strings (the
/// attribute values are mostly under 16 bytes, where `Hasher`'s setup and finalization cost
/// more than the bytes). Seeded per process from `Hasher`, so spellings a client chooses do not
/// collide on purpose any more than `Dictionary` keys do.
struct SpellingKey: DenseTableKey {
  let string: String
  let tableHash: Int

  init(_ string: String) {
    self.string = string
    tableHash = string.withUTF8InPlace(Self.hash)
  }

  static func == (a: SpellingKey, b: SpellingKey) -> Bool { a.tableHash == b.tableHash && a.string == b.string }

  private static let seed: (UInt64, UInt64) = {
    var a = Hasher(), b = Hasher()
    a.combine(0x5EED_0001 as UInt64)
    b.combine(0x5EED_0002 as UInt64)
    return (UInt64(bitPattern: Int64(a.finalize())), UInt64(bitPattern: Int64(b.finalize())))
  }()

  /// Folds two words into one with a 64x64 -> 128 bit multiply (as wyhash does).
  @inline(__always) private static func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
    let (high, low) = a.multipliedFullWidth(by: b)
    return high ^ low
  }

  @inline(__always) private static func word(_ p: UnsafeRawPointer, _ offset: Int) -> UInt64 {
    UInt64(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
  }

  /// Eight bytes at a time, the last (partial) word read from the end so no byte is missed.
  static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
    let n = bytes.count
    var h = seed.0 ^ UInt64(n) &* 0x9E37_79B9_7F4A_7C15
    if n > 0, let base = bytes.baseAddress.map(UnsafeRawPointer.init) {
      if n >= 8 {
        var i = 0
        while i + 8 < n {
          h = mix(h ^ word(base, i), seed.1 ^ 0xA076_1D64_78BD_642F)
          i += 8
        }
        h = mix(h ^ word(base, n - 8), seed.1 ^ 0xE703_7ED1_A0B4_28DB)
      } else {
        var w: UInt64 = 0
        for i in 0..<n { w |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        h = mix(h ^ w, seed.1 ^ 0xE703_7ED1_A0B4_28DB)
      }
    }
    return Int(bitPattern: UInt(mix(h, seed.0 ^ 0x8EBC_6AF0_9C88_C6E3)))
  }
}
