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
    self.init(string, hash: Self.hash(string))
  }

  /// - Parameters:
  ///   - hash: `hash(string)`, taken before.
  init(_ string: String, hash: Int) {
    assert(hash == Self.hash(string), "Identifier: the hash passed is not the string's")
    self.string = string
    self.hash = hash
  }

  static func hash(_ string: String) -> Int {
    var hasher = Hasher()
    hasher.combine(string)
    return hasher.finalize()
  }

  var tableHash: Int { hash }

  static func == (a: Identifier, b: Identifier) -> Bool { a.hash == b.hash && a.string == b.string }
}

/// The graph's table of cookies or emails.
typealias IdentifierTable<Value: Sendable> = DenseTable<Identifier, Value>

extension DenseTable where Key == Identifier {
  /// By string, where the caller does not already hold the `Identifier` (the hot path does).
  subscript(_ string: String) -> Value? {
    get { self[Identifier(string)] }
    _modify { yield &self[Identifier(string)] }
  }

  /// `update(_:hash:_:)` of an identifier.
  @discardableResult
  mutating func update<R>(_ id: Identifier, _ body: (inout Value) -> R) -> R? { update(id, hash: id.hash, body) }
}
