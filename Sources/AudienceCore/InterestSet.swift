/// A profile's interests, one per folded (lower-cased) form, each with the record it was first
/// seen in. A small array in insertion order, searched linearly (profiles hold a few interests),
/// with a dictionary beside it once it grows past `indexedFrom`: a million profiles then cost a
/// million arrays instead of a million hash tables, at ingest and at a snapshot's restore.
///
/// The folded form is not kept: it is the spelling's (`asciiFastLowercased`), and entries are
/// compared case-insensitively in place. Kept, it made each entry 64 bytes instead of 40 (about
/// 45 MB over a million profiles) and a folded string per interest of every record applied.
struct InterestSet: Sendable, Sequence {
  typealias Element = InterestSource

  static let indexedFrom = 24

  private var entries: [InterestSource] = []
  /// Position of each folded form, once there are `indexedFrom` entries.
  private var positions: [String: Int]?

  var count: Int { entries.count }
  var isEmpty: Bool { entries.isEmpty }
  /// The folded forms, in insertion order.
  var keys: [String] { entries.map(\.spelling.asciiFastLowercased) }
  var values: [InterestSource] { entries }

  mutating func reserveCapacity(_ n: Int) { entries.reserveCapacity(n) }

  func makeIterator() -> IndexingIterator<[InterestSource]> { entries.makeIterator() }

  /// Where the entry of `spelling`'s folded form is.
  private func position(of spelling: String) -> Int? {
    if let positions { return positions[spelling.asciiFastLowercased] }
    return entries.firstIndex { RecordNormalizer.sameFolded($0.spelling, spelling) }
  }

  /// The entry of `spelling`'s folded form (any spelling of it finds it); setting nil removes it.
  subscript(spelling spelling: String) -> InterestSource? {
    get { position(of: spelling).map { entries[$0] } }
    set {
      if let at = position(of: spelling) {
        guard let newValue else { remove(at: at); return }
        entries[at] = newValue
        return
      }
      guard let newValue else { return }
      append(newValue)
    }
  }

  /// Keeps `source` for its folded form, unless the entry there came first (`precedes`): one
  /// search for the lookup and the change.
  mutating func keepEarliest(_ source: InterestSource) {
    if let at = position(of: source.spelling) {
      if !entries[at].precedes(source) { entries[at] = source }
      return
    }
    append(source)
  }

  private mutating func append(_ source: InterestSource) {
    entries.append(source)
    if positions != nil {
      positions![source.spelling.asciiFastLowercased] = entries.count - 1
    } else if entries.count >= Self.indexedFrom {
      reindex()
    }
  }

  private mutating func remove(at i: Int) {
    entries.remove(at: i)
    if positions != nil { reindex() }
  }

  private mutating func reindex() {
    positions = Dictionary(uniqueKeysWithValues: entries.enumerated().map { ($1.spelling.asciiFastLowercased, $0) })
  }
}

extension String {
  /// `lowercased()`, without its Unicode machinery for ASCII (interests' folded forms).
  var asciiFastLowercased: String {
    let folded: String? = withUTF8InPlace { utf8 in
      var upper = false
      for b in utf8 {
        if b >= 0x80 { return nil }
        if b >= 0x41 && b <= 0x5A { upper = true }
      }
      return upper ? String(asciiLowercasing: utf8) : self
    }
    return folded ?? lowercased()
  }

  /// ASCII bytes as a string, their capitals lower-cased.
  init(asciiLowercasing utf8: UnsafeBufferPointer<UInt8>) {
    self.init(unsafeUninitializedCapacity: utf8.count) { out in
      for i in 0..<utf8.count { out[i] = utf8[i].asciiLowercased }
      return utf8.count
    }
  }
}

extension UInt8 {
  /// The byte, lower-cased when it is an ASCII capital.
  var asciiLowercased: UInt8 { self >= 0x41 && self <= 0x5A ? self | 0x20 : self }
}
