import PropertyBased
import Testing

@testable import AudienceCore

@Suite("Timestamp parsing")
struct TimestampParsingTests {
  @Test(arguments: [
    ("03/10/2025 15:30", "2025-03-10T15:30:00"),
    ("3/1/2025 5:07", "2025-03-01T05:07:00"),
    ("03/10/2025 15:30:45", "2025-03-10T15:30:45"),
    ("03/10/2025", "2025-03-10T00:00:00"),
    ("  03/10/2025 15:30  ", "2025-03-10T15:30:00"),
    ("2025-03-10T15:30:00", "2025-03-10T15:30:00"),
    ("2025-03-10 15:30", "2025-03-10T15:30:00"),
    ("2025-03-10", "2025-03-10T00:00:00"),
    ("2025-03-10T15:30:00.123456", "2025-03-10T15:30:00"),
    ("2025-03-10T15:30:00Z", "2025-03-10T15:30:00"),
    ("2025-03-10T15:30:00+02:00", "2025-03-10T13:30:00"),
    ("2025-03-10T01:30:00-0300", "2025-03-10T04:30:00"),
    ("2025-01-01T00:30:00+01:00", "2024-12-31T23:30:00"),
    ("02/29/2024 12:00", "2024-02-29T12:00:00"),
    ("1970-01-01T00:00:00", "1970-01-01T00:00:00"),
    ("1969-12-31T23:59:59", "1969-12-31T23:59:59"),
    ("9999-12-31T23:30:00+01:00", "9999-12-31T22:30:00"), ("0001-01-01T00:30:00+00:30", "0001-01-01T00:00:00"),
  ])
  func parses(_ input: String, _ expected: String) throws {
    let t = try #require(Timestamp(parsing: input))
    #expect(t.iso8601 == expected)
  }

  @Test(arguments: [
    "", "yesterday", "02/30/2025 10:00", "13/01/2025 10:00", "02/29/2025 12:00", "00/10/2025 10:00",
    "03/10/2025 24:00", "03/10/2025 10:60", "03/10/25 10:00", "2025-13-01", "2025-02-30", "2025-03-10T15",
    "2025-03-10T15:30:00+25:00", "2025-03-10X15:30", "03/10/2025 15:30 extra", "2025/03/10",
    // An offset that carries the time past the years a stored time is read back in.
    "9999-12-31T23:30:00-01:00", "0001-01-01T00:00:00+01:00",
  ])
  func rejects(_ input: String) {
    #expect(Timestamp(parsing: input) == nil)
  }

  @Test func epochArithmetic() {
    #expect(Timestamp(year: 1970, month: 1, day: 1)?.seconds == 0)
    #expect(Timestamp(year: 2000, month: 3, day: 1)?.seconds == 951_868_800)
    #expect(Timestamp(seconds: -1).iso8601 == "1969-12-31T23:59:59")
  }

  @Test func iso8601RoundTripsOverFourCenturies() async {
    await propertyCheck(count: 500, input: Gen.int(in: -11_000_000_000...200_000_000_000)) { seconds in
      let t = Timestamp(seconds: Int64(seconds) / 100)
      #expect(Timestamp(parsing: t.iso8601) == t)
    }
  }

  /// The stored rows take the form's bytes without a `String`: the same bytes, after what the
  /// buffer held, for four-digit years and for the others (written the general way).
  @Test func appendedBytesAreTheStoredForm() async {
    await propertyCheck(count: 500, input: Gen.int(in: -400_000_000_000...400_000_000_000)) { seconds in
      let t = Timestamp(seconds: Int64(seconds))
      var bytes: [UInt8] = [7, 7]
      t.appendISO8601(to: &bytes)
      #expect(bytes == [7, 7] + Array(t.iso8601.utf8), "\(seconds)")
    }
    for year in [0, 9999, 10_000, -1] {
      let t = Timestamp(seconds: (Int64(year) - 1970) * 31_556_952)
      var bytes: [UInt8] = []
      t.appendISO8601(to: &bytes)
      #expect(bytes == Array(t.iso8601.utf8), "year \(year)")
    }
  }
}
