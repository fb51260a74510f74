/// A profile's interests by folded (lower-cased) form, each with the record it was first seen
/// in. A small array in insertion order, searched linearly (profiles hold a few interests), with
/// a dictionary beside it once it grows past `indexedFrom`: a million profiles then cost a
/// million arrays instead of a million hash tables, at ingest and at a snapshot's restore.
struct InterestSet: Sendable, Sequence {
  typealias Element = (key: String, value: InterestSource)

  static let indexedFrom = 24

  private var entries: [Element] = []
  /// Position of each folded form, once there are `indexedFrom` entries.
  private var positions: [String: Int]?

  var count: Int { entries.count }
  var isEmpty: Bool { entries.isEmpty }
  var keys: [String] { entries.map(\.key) }
  var values: [InterestSource] { entries.map(\.value) }

  mutating func reserveCapacity(_ n: Int) { entries.reserveCapacity(n) }

  func makeIterator() -> IndexingIterator<[Element]> { entries.makeIterator() }

  private func position(of folded: String) -> Int? {
    if let positions { return positions[folded] }
    return entries.firstIndex { $0.key == folded }
  }

  subscript(folded: String) -> InterestSource? {
    get { position(of: folded).map { entries[$0].value } }
    set {
      if let at = position(of: folded) {
        guard let newValue else { remove(at: at); return }
        entries[at].value = newValue
        return
      }
      guard let newValue else { return }
      entries.append((folded, newValue))
      if positions != nil {
        positions![folded] = entries.count - 1
      } else if entries.count >= Self.indexedFrom {
        positions = Dictionary(uniqueKeysWithValues: entries.enumerated().map { ($1.key, $0) })
      }
    }
  }

  private mutating func remove(at i: Int) {
    entries.remove(at: i)
    if positions != nil {
      positions = Dictionary(uniqueKeysWithValues: entries.enumerated().map { ($1.key, $0) })
    }
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
