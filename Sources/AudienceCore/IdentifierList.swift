/// Identifiers in the order they joined: a profile's cookies or emails, a cookie's emails, an
/// email's cookies. Nearly every such list holds one identifier, so the first is kept inline and
/// only the others in an array: a list of one costs no heap block (an array of one is a 48-byte
/// block, four of them per new person, and a cache miss to read its count).
public struct IdentifierList: RandomAccessCollection, ExpressibleByArrayLiteral, Hashable, Sendable {
  private var head: String?
  /// The identifiers after `head` (empty, with no heap block, while there is at most one).
  private var tail: [String] = []

  public init() {}

  /// A list of one (no heap block: an array literal would allocate one for its elements).
  public init(_ identifier: String) { head = identifier }

  public init(_ identifiers: some Sequence<String>) {
    for s in identifiers { append(s) }
  }

  public init(arrayLiteral identifiers: String...) { self.init(identifiers) }

  public var startIndex: Int { 0 }
  public var endIndex: Int { head == nil ? 0 : 1 + tail.count }

  public subscript(position: Int) -> String {
    precondition(position >= 0 && position < endIndex, "IdentifierList index out of range")
    return position == 0 ? head! : tail[position - 1]
  }

  /// Adds one at the end (it is the caller's to check it is not there yet).
  public mutating func append(_ identifier: String) {
    if head == nil { head = identifier } else { tail.append(identifier) }
  }

  /// Reserves room for `n` identifiers in all (an array block only when more than one).
  public mutating func reserveCapacity(_ n: Int) {
    if n > 1 { tail.reserveCapacity(n - 1) }
  }

  /// The identifiers as an array.
  public var array: [String] { Array(self) }
}
