@testable import AudienceClient
import AudienceCore
import AudienceWire
import Foundation
import NIOCore
import Testing

/// The CLI encodes CSV rows from the parser's bytes (`CSVRecords.encode`), reading the common
/// row itself and leaving the others to `record`: both must make the same record of every row,
/// and refuse the same rows.
@Suite("CSV rows encoded from their bytes")
struct CSVRecordsBytesTests {
  static let texts = [
    "", "a", "c-1234567", "Ünïcödé ville", " padded ", "x.0", "comma,inside", "quote\"inside", "line\nbreak",
    "\u{00A0}nbsp", "tab\there", "a\u{0}b", "someone@example.com",
  ]
  static let ages = [
    "", "25", "007", "0", "130", "999999999", "1000000000", " 25", "25 ", "25.0", "nan", "-3", "+7", "abc", "1e2",
    "\u{663}", "2 5",
  ]
  static let interests = [
    "", "Tech;Gaming", "Tech| Gaming", "a;;b|", " ; \u{3000};x", "caf\u{E9};\u{FC}ber", "['Tech', 'Gaming']", "[x",
    "x]", "\t;\r\n;y", "\u{1C};z", "日本;中国", ";", "|", " Tech", "Tech ", "a\u{7F};b", "Sports;\u{85};c", "a; ;b", "a;\t|b",
  ]
  static let incomes = ["", "50000", "50000.0", "1.0", ".0", "0", "abc.0", "x\u{301}.0", "$50k", "1e5.0"]
  static let headers: [[String]] = [
    ["cookie", "email", "phone_number", "created_at", "state", "country", "city", "age", "gender", "income", "education", "interests"],
    ["data.cookie", "data.location.city", "demographics.age", "extra", "interests", "demographics.income"],
    ["interests", "age", "cookie", "income", "location.country"],
    ["Cookie", " EMAIL ", "age"],
  ]

  static func quoted(_ s: String, _ rng: inout SplitMix64) -> String {
    let plain = !s.utf8.contains(where: { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 0x0A || $0 == 0x0D })
    return plain && rng.next() % 2 == 0 ? s : "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
  }

  static func value(for column: String, _ rng: inout SplitMix64) -> String {
    func pick(_ values: [String]) -> String { values[Int(rng.next() % UInt64(values.count))] }
    let name = column.lowercased()
    if name.hasSuffix("age") { return pick(ages) }
    if name.hasSuffix("interests") { return pick(interests) }
    if name.hasSuffix("income") { return pick(incomes) }
    if name.hasSuffix("cookie") { return rng.next() % 10 == 0 ? pick(texts) : "c\(rng.next() % 100)" }
    return pick(texts)
  }

  static func frame(_ records: EncodedRecords) -> [UInt8] {
    var buffer = ByteBuffer()
    WireCodec.encode(WireRequest(id: 1, body: .ingestBatch(IngestBatch(stream: 1, sequence: 0, records: .encoded(records)))), into: &buffer)
    return Array(buffer.readableBytesView)
  }

  @Test func everyRowReadsAsRecordReadsIt() throws {
    var rng = SplitMix64(seed: 4_000)
    var rows = 0, refused = 0, fromBytesAlone = 0
    for header in Self.headers {
      let mapping = try CSVRecords(header: header)
      var csv = ""
      for _ in 0..<800 {
        // Now and then a row shorter than the header (missing trailing fields read as empty),
        // or longer (refused unless the fields past the header are empty).
        let width = rng.next() % 8 == 0 ? Int(rng.next() % UInt64(header.count)) + 1 : header.count
        var fields = header.prefix(width).map { Self.quoted(Self.value(for: $0, &rng), &rng) }
        if rng.next() % 16 == 0 {
          for _ in 0...(rng.next() % 2) { fields.append(["", " ", "x", "\"a,b\""][Int(rng.next() % 4)]) }
        }
        csv += fields.joined(separator: ",") + "\r\n"
      }
      var parser = CSVParser()
      var fromBytes = EncodedRecords.Builder()
      var fromStrings = EncodedRecords.Builder()
      func take(_ row: borrowing CSVByteRow) {
        guard row.error == nil else { return }
        rows += 1
        var fields = RawRecordBytes()
        if !row.hasNUL, mapping.read(row, into: &fields) { fromBytesAlone += 1 }
        let fast = Result { () throws(AudienceError) in try mapping.encode(row, into: &fromBytes) }
        let slow = Result { () throws(AudienceError) in try mapping.record(row.fields, mayHoldNUL: row.hasNUL) }
        switch (fast, slow) {
        case (.success, .success(let r)): fromStrings.append(r)
        case (.failure(let a), .failure(let b)): #expect(a.message == b.message, "line \(row.line)")
          refused += 1
        default: Issue.record("line \(row.line): \(fast) from the bytes, \(slow) from the strings")
        }
      }
      // In chunks of any size: a row, a field or a quote may straddle two.
      Array(csv.utf8).withUnsafeBytes { all in
        var at = 0
        while at < all.count {
          let end = min(all.count, at + 1 + Int(rng.next() % 4_096))
          parser.feed(UnsafeRawBufferPointer(rebasing: all[at..<end]), rows: take)
          at = end
        }
      }
      parser.finish(rows: take)
      #expect(fromBytes.count == fromStrings.count)
      let a = Self.frame(fromBytes.take()), b = Self.frame(fromStrings.take())
      if a != b {
        let at = zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(a.count, b.count)
        Issue.record("header \(header): the frames differ at byte \(at) of \(a.count) and \(b.count)")
      }
    }
    // The generated rows reach both sides (a row of one empty field is an empty line, skipped).
    #expect(rows > 3_100 && refused > 100 && refused < 2_000, "\(rows) rows, \(refused) refused")
    // And many of the rows read are read from their bytes alone (not all left to `record`;
    // the values here are mostly odd ones, so most rows go to `record`).
    #expect(fromBytesAlone > (rows - refused) / 5, "\(fromBytesAlone) of \(rows - refused) read from the bytes")
  }

  /// Files joined with their headers (`cat a.csv b.csv`): the second header is refused as such,
  /// from the bytes and from the strings alike (it became a person with cookie "cookie", email
  /// "email"); a row holding only some of the names is a record.
  @Test func aRepeatedHeaderRowIsRefused() throws {
    let mapping = try CSVRecords(header: ["cookie", "email", "location.city", "extra"])
    // The rows after the header.
    let csv = "rh1,rh1@x.com,Rome,\ncookie,email,location.city,\ncookie,x@y.z,city,x\n\u{FEFF}cookie,email,location.city\n"
    var parser = CSVParser()
    var builder = EncodedRecords.Builder()
    var outcomes: [String] = []
    func take(_ row: borrowing CSVByteRow) {
      let fast = Result { () throws(AudienceError) in try mapping.encode(row, into: &builder) }
      let slow = Result { () throws(AudienceError) in try mapping.record(row.fields) }
      switch (fast, slow) {
      case (.success, .success(let r)): outcomes.append(r.cookie)
      case (.failure(let a), .failure(let b)):
        #expect(a.message == b.message)
        outcomes.append(a.message)
      default: Issue.record("line \(row.line): \(fast) from the bytes, \(slow) from the strings")
      }
    }
    Array(csv.utf8).withUnsafeBytes { parser.feed($0, rows: take) }
    parser.finish(rows: take)
    // The last: the second file's header after its byte order mark.
    let again = "the header row again (files joined with their headers?): not a record"
    #expect(outcomes == ["rh1", again, "cookie", again])
  }
}
