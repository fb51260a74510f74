/// A cookie or an email with its hash taken once.
///
/// The identity graph's tables hold a million identifiers and more. A growth of a table would
/// rehash each identifier, and a probe that meets another identifier of the same length would
/// compare bytes; both read the string from its own heap block, at that size a cache miss each
/// time. With the hash kept, a growth reads no string, and a probe compares hashes first.
struct Identifier: DenseTableKey {
  let string: String
  /// The string's hash with the process's seed (`Hasher`), so identifiers chosen by a client
  /// cannot be made to collide any more than plain `String` keys can.
  let hash: Int

  init(_ string: String) {
    self.string = string
    var hasher = Hasher()
    hasher.combine(string)
    hash = hasher.finalize()
  }

  var tableHash: Int { hash }

  static func == (a: Identifier, b: Identifier) -> Bool { a.hash == b.hash && a.string == b.string }
}

/// The graph's table of cookies or emails, read and written by `String` where the hot path does
/// not already hold the `Identifier`.
struct IdentifierTable<Value: Sendable>: Sendable, Sequence {
  private var entries = DenseTable<Identifier, Value>()

  init() {}

  var count: Int { entries.count }

  var values: LazyMapSequence<[Value?], Value> { entries.allValues }

  mutating func reserveCapacity(_ n: Int) { entries.reserveCapacity(n) }

  subscript(_ id: Identifier) -> Value? {
    get { entries[id] }
    _modify { yield &entries[id] }
  }

  subscript(_ string: String) -> Value? {
    get { entries[Identifier(string)] }
    _modify { yield &entries[Identifier(string)] }
  }

  struct Iterator: IteratorProtocol {
    var base: DenseTable<Identifier, Value>.Iterator

    mutating func next() -> (key: String, value: Value)? {
      base.next().map { (key: $0.key.string, value: $0.value) }
    }
  }

  /// Entries in the order they were added (until a removal moves the last into its place).
  func makeIterator() -> Iterator { Iterator(base: entries.makeIterator()) }
}
