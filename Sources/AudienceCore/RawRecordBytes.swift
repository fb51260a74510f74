/// A record as received, each field a span of the bytes it arrived in, not yet checked to be
/// UTF-8: what `RecordNormalizer` reads, so that a received record becomes its normalized strings
/// without a `String` per field first. The spans are valid only while the bytes they point into
/// are (a received frame, or `withBytes`' copy of a `RawRecord`). An empty span is an absent field.
public struct RawRecordBytes {
  public typealias Bytes = UnsafeBufferPointer<UInt8>

  public var cookie = Bytes.none
  public var email = Bytes.none
  public var phoneNumber = Bytes.none
  public var createdAt = Bytes.none
  public var state = Bytes.none
  public var country = Bytes.none
  public var city = Bytes.none
  public var age: Int?
  public var gender = Bytes.none
  public var income = Bytes.none
  public var education = Bytes.none
  public var interests: [Bytes] = []
  /// Interests past the first `interestsKept` (`addInterest`): counted, not kept.
  public private(set) var interestsNotKept = 0

  /// Most interests `addInterest` keeps: far above any limit a record is held to (256 by
  /// default), so a record past it is refused whole, and a frame of millions of two-byte
  /// interests does not make millions of spans while it is read (16 bytes each: 32 MiB for a
  /// 4 MiB frame, per connection).
  public static let interestsKept = 65_536

  public init() {}

  /// Adds a received interest, or counts it once `interestsKept` are held.
  public mutating func addInterest(_ interest: Bytes) {
    if interests.count < Self.interestsKept { interests.append(interest) } else { interestsNotKept += 1 }
  }

  /// Every interest received, kept or not.
  public var interestCount: Int { interests.count + interestsNotKept }

  /// Clears every field for the next record, keeping the interests' capacity.
  public mutating func reset() {
    var interests = self.interests
    self.interests = []
    interests.removeAll(keepingCapacity: true)
    self = RawRecordBytes()
    self.interests = interests
  }
}

extension UnsafeBufferPointer<UInt8> {
  /// No bytes: an absent field.
  public static var none: Self { Self(start: nil, count: 0) }
}

extension RawRecord {
  /// Calls `body` with this record's fields as spans of one copy of their bytes.
  public func withBytes<R, E: Error>(_ body: (borrowing RawRecordBytes) throws(E) -> R) throws(E) -> R {
    let texts = [cookie, email, phoneNumber, createdAt, state, country, city, gender, income, education]
    var storage: [UInt8] = []
    storage.reserveCapacity(texts.reduce(0) { $0 + $1.utf8.count } + interests.reduce(0) { $0 + $1.utf8.count })
    var ends: [Int] = []
    ends.reserveCapacity(texts.count + interests.count)
    for t in texts + interests {
      storage.append(contentsOf: t.utf8)
      ends.append(storage.count)
    }
    return try storage.withUnsafeBufferPointer { (all) throws(E) -> R in
      func span(_ n: Int) -> RawRecordBytes.Bytes {
        let start = n == 0 ? 0 : ends[n - 1]
        return start == ends[n] ? .none : RawRecordBytes.Bytes(rebasing: all[start..<ends[n]])
      }
      var b = RawRecordBytes()
      (b.cookie, b.email, b.phoneNumber, b.createdAt) = (span(0), span(1), span(2), span(3))
      (b.state, b.country, b.city) = (span(4), span(5), span(6))
      (b.gender, b.income, b.education) = (span(7), span(8), span(9))
      b.age = age
      b.interests = interests.indices.map { span(texts.count + $0) }
      return try body(b)
    }
  }
}
