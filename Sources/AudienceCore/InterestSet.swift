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
  /// Once the set holds more interests than its profile shows, the ones it shows (`shown(cap:)`,
  /// `cap` being this many), oldest first, kept up to date as interests are added: each record
  /// applied sorted every interest to find them, and a cookie sending 50 new interests a record
  /// made ingest quadratic (8,000 records took 40 s, and Health waited on the graph meanwhile).
  /// Nil when not kept (`keepShown`), or after an entry it held became older.
  private var newest: [InterestSource]?

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
        newest = nil
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
      if !entries[at].precedes(source) {
        forgetShown(ifHolding: entries[at])
        entries[at] = source
      }
      return
    }
    append(source)
  }

  /// The `cap` entries seen last (by `InterestSource.precedes`), oldest first: all of them when
  /// there are no more than `cap`.
  func shown(cap: Int) -> [InterestSource] {
    if let newest, newest.count == cap, entries.count > cap { return newest }
    return Self.newest(cap, of: entries)
  }

  /// Keeps `shown(cap:)` from now on, while there are more than `cap` entries (a profile showing
  /// `cap` interests); sorts them when it was not kept.
  mutating func keepShown(cap: Int) {
    guard entries.count > cap, cap > 0 else {
      newest = nil
      return
    }
    if let newest, newest.count == cap { return }
    newest = Self.newest(cap, of: entries)
  }

  private static func newest(_ cap: Int, of entries: [InterestSource]) -> [InterestSource] {
    cap <= 0 ? [] : Array(entries.sorted { $0.precedes($1) }.suffix(cap))
  }

  /// An entry becomes older (or goes): if it was shown, the next newest is not known here.
  private mutating func forgetShown(ifHolding old: InterestSource) {
    if let first = newest?.first, !old.precedes(first) { newest = nil }
  }

  /// A new entry: shown if it is newer than the oldest shown, which then goes.
  private mutating func admit(_ source: InterestSource) {
    guard var kept = newest, let first = kept.first, first.precedes(source) else { return }
    newest = nil  // not shared while changed
    var low = 0, high = kept.count
    while low < high {
      let mid = (low + high) / 2
      if kept[mid].precedes(source) { low = mid + 1 } else { high = mid }
    }
    kept.insert(source, at: low)
    kept.removeFirst()
    newest = kept
  }

  private mutating func append(_ source: InterestSource) {
    admit(source)
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
