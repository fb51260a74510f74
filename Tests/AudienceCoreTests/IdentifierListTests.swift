import Testing

@testable import AudienceCore

@Suite("Identifier list")
struct IdentifierListTests {
  /// A list behaves as the array of its identifiers at every length, the inline first one and
  /// the ones after it alike: order, count, positions, equality and hashing.
  @Test(arguments: 0...5) func behavesAsItsArray(length: Int) {
    let identifiers = (0..<length).map { "id-\($0)-long-enough-to-live-on-the-heap" }
    var appended = IdentifierList()
    for s in identifiers { appended.append(s) }
    var reserved = IdentifierList()
    reserved.reserveCapacity(length)
    for s in identifiers { reserved.append(s) }
    let lists = [appended, reserved, IdentifierList(identifiers)] + (length == 1 ? [IdentifierList(identifiers[0])] : [])
    for list in lists {
      #expect(list.array == identifiers)
      #expect(list.count == length)
      #expect(list.isEmpty == (length == 0))
      #expect(list.indices.map { list[$0] } == identifiers)
      #expect(list.first == identifiers.first)
      #expect(list.last == identifiers.last)
      #expect(list == appended)
      #expect(list.hashValue == appended.hashValue)
    }
    #expect(identifiers.allSatisfy { appended.contains($0) })
    #expect(!appended.contains("absent"))
    if length > 0 {
      var shorter = IdentifierList(identifiers.dropLast())
      #expect(shorter != appended)
      shorter.append(identifiers[length - 1])
      #expect(shorter == appended)
    }
  }
}
