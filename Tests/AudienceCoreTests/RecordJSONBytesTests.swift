import Testing

@testable import AudienceCore

/// The CLI reads the common JSON line from its bytes (`RecordJSON.read`) and leaves the others
/// to `RecordJSON.record(from:)`: whatever it takes, it must read as `record(from:)` does.
@Suite("JSON lines read from their bytes")
struct RecordJSONBytesTests {
  static func raw(_ b: RawRecordBytes) -> RawRecord {
    func s(_ x: UnsafeBufferPointer<UInt8>) -> String { String(decoding: x, as: UTF8.self) }
    return RawRecord(
      cookie: s(b.cookie), email: s(b.email), phoneNumber: s(b.phoneNumber), createdAt: s(b.createdAt), state: s(b.state),
      country: s(b.country), city: s(b.city), age: b.age, gender: s(b.gender), income: s(b.income), education: s(b.education),
      interests: b.interests.map(s))
  }

  /// A line in the shape the generator writes, then changed at random, often into one the fast
  /// reader must leave alone.
  static func line(_ rng: inout SplitMix64) -> String {
    func pick<T>(_ xs: [T]) -> T { xs[Int(rng.next() % UInt64(xs.count))] }
    let texts = [#""a""#, #""""#, "null", #""São Paulo""#, #""x\"y""#, #""tab\tx""#, "42", "4.5", "true", #""\u0041""#, "[]", "{}"]
    // Odd values now and then: a line has a dozen fields, and many should stay plain.
    func text() -> String { rng.next() % 40 == 0 ? pick(texts) : "\"v\(rng.next() % 50)\"" }
    func age() -> String { rng.next() % 8 == 0 ? pick(ages) : "\(rng.next() % 131)" }
    let ages = [
      "21", "0", "130", "131", "007", "25.0", "2e1", "-1", #""25""#, "null", "1000", "21 ", " 21", "true", #""""#, #""25.0""#,
      #""0x1e""#, #""25.5""#,
    ]
    let interests = [
      "[]", #"["Tech","Gaming"]"#, "null", #""Tech;Gaming""#, #"["Tech",null]"#, #"["Tech",7]"#, #"[ "a" , "b" ]"#, #"["a",]"#,
      #"["x\ny"]"#, "[[]]",
    ]
    var location = ["\"state\":\(text())", "\"country\":\(text())", "\"city\":\(text())"].filter { _ in rng.next() % 5 != 0 }
    var demographics = ["\"age\":\(age())", "\"gender\":\(text())", "\"income\":\(text())", "\"education\":\(text())"]
      .filter { _ in rng.next() % 5 != 0 }
    if rng.next() % 10 == 0 { location.append("\"city\":\(text())") }
    if rng.next() % 10 == 0 { demographics.append("\"zip\":\(text())") }
    var members = [
      "\"cookie\":\(rng.next() % 8 == 0 ? text() : "\"c\(rng.next() % 100)\"")", "\"email\":\(text())",
      "\"phone_number\":\(text())", "\"created_at\":\(text())",
      "\"location\":" + (rng.next() % 10 == 0 ? pick(["null", "[]", "\"x\""]) : "{" + location.joined(separator: ",") + "}"),
      "\"demographics\":" + (rng.next() % 10 == 0 ? pick(["null", "7"]) : "{" + demographics.joined(separator: " , ") + "}"),
      "\"interests\":" + (rng.next() % 4 == 0 ? pick(interests) : #"["Tech","Sports"]"#),
    ].filter { _ in rng.next() % 6 != 0 }
    if rng.next() % 10 == 0 { members.append("\"email\":\(text())") }
    if rng.next() % 12 == 0 { members.append("\"extra\":\(text())") }
    if rng.next() % 12 == 0 { members.insert("\"data\":{}", at: Int(rng.next() % UInt64(members.count + 1))) }
    members.shuffle(using: &rng)
    let record = "{" + members.joined(separator: rng.next() % 4 == 0 ? ", " : ",") + "}"
    switch rng.next() % 16 {
    case 0: return record
    case 1: return " {\"data\": " + record + "} "
    case 2: return "{\"data\":" + record + ",\"more\":1}"
    case 3: return "{\"data\":" + record
    case 4: return "{\"data\":null}"
    case 5: return "[" + record + "]"
    default: return "{\"data\":" + record + "}"
    }
  }

  @Test func whatIsReadFromTheBytesIsWhatRecordReads() throws {
    var rng = SplitMix64(seed: 9_090)
    var fast = 0, total = 0
    for _ in 0..<5_000 {
      let text = Self.line(&rng)
      total += 1
      let fromBytes: RawRecord? = Array(text.utf8).withUnsafeBufferPointer { bytes in
        var fields = RawRecordBytes()
        return RecordJSON.read(bytes, into: &fields) ? Self.raw(fields) : nil
      }
      guard let fromBytes else { continue }
      fast += 1
      let generic = Result { () throws -> RawRecord in try RecordJSON.record(from: JSONValue(parsing: text)) }
      switch generic {
      case .success(let r): #expect(fromBytes == r, "\(text)")
      case .failure(let e): Issue.record("\(text): read from the bytes, but record(from:) says \(e)")
      }
    }
    // Many lines are read from their bytes, many are left to record(from:).
    #expect(fast > total / 10 && fast < total * 9 / 10, "\(fast) of \(total)")
  }

  /// An age written as a string reads as the CSV reader reads it: "25.0" (pandas' way with gaps)
  /// is 25; "25.5" and the hexadecimal "0x1e" are not whole decimal numbers.
  @Test func agesInStringsReadAsInCSV() throws {
    func age(_ text: String) throws -> Int? {
      try RecordJSON.record(from: JSONValue(parsing: #"{"cookie": "c", "demographics": {"age": "# + text + "}}")).age
    }
    #expect(try age(#""25.0""#) == 25)
    #expect(try age(#"" 2.5e1 ""#) == 25)
    #expect(try age(#""25""#) == 25)
    for bad in [#""25.5""#, #""0x1e""#, #""nan""#] {
      #expect(throws: AudienceError.self, "\(bad)") { try age(bad) }
    }
  }

  /// Known fields where the shape does not read them are named (they were ignored without a
  /// word: a `city` directly under `data` was lost); other keys (`_id`) are not.
  @Test func misplacedFieldsAreNamed() throws {
    func misplaced(_ text: String) throws -> [String] { RecordJSON.misplacedFields(in: try JSONValue(parsing: text)) }
    #expect(try misplaced(#"{"data":{"cookie":"m1","city":"Paris","age":30}}"#)
      == ["data.city is not read: it goes in data.location.city", "data.age is not read: it goes in data.demographics.age"])
    #expect(try misplaced(#"{"data":{"cookie":"m2"},"location":{"city":"Rome"}}"#) == ["location is beside data, not in it: it is not read"])
    #expect(try misplaced(#"{"cookie":"m3","location":{"age":5,"email":"e"}}"#)
      == ["location.age is not read: it goes in demographics.age", "location.email is not read: it goes in email"])
    #expect(try misplaced(#"{"data":{"cookie":"m4","_id":"x","location":{"city":"Bern"},"demographics":null}}"#) == [])
    // A null holds nothing to lose (a column only some rows fill).
    #expect(try misplaced(#"{"data":{"cookie":"m5","city":null,"location":{"age":null}},"country":null}"#) == [])
    // Keys are matched exactly: a key in another case is named (its value was lost unsaid).
    #expect(try misplaced(#"{"data":{"cookie":"ce1","Email":"ce@x.com","Demographics":{"Age":30},"location":{"City":"Bern"}}}"#)
      == ["data.location.City is not read: keys are lower case (city)", "data.Email is not read: keys are lower case (email)",
          "data.Demographics is not read: keys are lower case (demographics)"])
    #expect(try misplaced(#"{"Data":{"cookie":"d1"}}"#) == ["Data is not read: keys are lower case (data)"])
  }

  /// Dotted keys, as pandas' `json_normalize(...).to_json(lines=True)` writes them and as the
  /// CSV headers name the fields, are read where the dots say (they were dropped without a word:
  /// the city and the age were lost, and an age that is no number was never checked).
  @Test func dottedKeysAreReadWhereTheyPoint() throws {
    func read(_ text: String) throws -> RawRecord { try RecordJSON.record(from: JSONValue(parsing: text)) }
    #expect(try read(#"{"cookie":"d1","location.city":"Nice","demographics.age":31,"demographics.gender":"F"}"#)
      == RawRecord(cookie: "d1", city: "Nice", age: 31, gender: "F"))
    #expect(try read(#"{"data.cookie":"d2","data.location.country":"FR","data.demographics.age":"40","data.interests":"Tech|AI"}"#)
      == RawRecord(cookie: "d2", country: "FR", age: 40, interests: ["Tech", "AI"]))
    #expect(try read(#"{"data":{"cookie":"d7","location.city":"Nice","demographics.age":31}}"#)
      == RawRecord(cookie: "d7", city: "Nice", age: 31))
    // Beside a nested object: they join it; a member there already is kept.
    #expect(try read(#"{"data":{"cookie":"d3","location":{"city":"Bern"}},"data.location.state":"BE","data.location.city":"Zug"}"#)
      == RawRecord(cookie: "d3", state: "BE", city: "Bern"))
    #expect(throws: AudienceError.self) { try read(#"{"cookie":"d4","demographics.age":"abc"}"#) }
    // A null parent beside its dotted members, as json_normalize keeps one.
    #expect(try read(#"{"cookie":"d8","location":null,"location.city":"Paris","demographics":null,"demographics.age":22}"#)
      == RawRecord(cookie: "d8", city: "Paris", age: 22))
    // A dotted key that is not a field of the shape is named as any misplaced one is.
    #expect(try RecordJSON.misplacedFields(in: JSONValue(parsing: #"{"data.cookie":"d5","data.city":"Paris"}"#))
      == ["data.city is not read: it goes in data.location.city"])
    // And the fast reader leaves such a line to the full one.
    var bytes = RawRecordBytes()
    let line = Array(#"{"cookie":"d6","location.city":"Nice"}"#.utf8)
    #expect(!line.withUnsafeBufferPointer { RecordJSON.read($0, into: &bytes) })
  }

  /// A number where text goes is read as its decimal text, unless it cannot be held exactly:
  /// 1e400 was stored as "inf", 12345678901234567890123 as "1.2345678901234568e+22".
  @Test func numbersWhereTextGoesAreExactOrRefused() throws {
    func income(_ number: String) throws -> String {
      try RecordJSON.record(from: JSONValue(parsing: #"{"cookie":"n","demographics":{"income":\#(number)}}"#)).income
    }
    #expect(try income("50000.0") == "50000")
    #expect(try income("1e15") == "1000000000000000")
    #expect(try income("50000.5") == "50000.5")
    #expect(throws: AudienceError.self) { try income("1e400") }
    #expect(throws: AudienceError.self) { try income("12345678901234567890123") }
  }

  @Test func theGeneratorsLinesAreAllReadFromTheirBytes() throws {
    let lines = [
      #"{"data":{"cookie":"c0","email":"user0@example.com","phone_number":"3373143628","created_at":"2025-01-01T00:02:43","location":{"state":"Texas","country":"USA","city":"City90"},"demographics":{"age":21,"gender":"Male","income":"33000","education":"Bachelor's"},"interests":[]}}"#,
      #"{"data":{"cookie":"c1","email":"user1@example.com","phone_number":null,"created_at":"2025-01-01T00:12:05","location":{"state":"São Paulo","country":"Brazil","city":"City20"},"demographics":{"age":62,"gender":"Male","income":"18000","education":"Master's"},"interests":["Movies","Gaming","Yoga","Finance"]}}"#,
      #"{"cookie": "c2", "demographics": {"age": null}, "location": null, "interests": null}"#,
    ]
    for text in lines {
      let r: RawRecord? = Array(text.utf8).withUnsafeBufferPointer { bytes in
        var fields = RawRecordBytes()
        return RecordJSON.read(bytes, into: &fields) ? Self.raw(fields) : nil
      }
      #expect(r == (try RecordJSON.record(from: JSONValue(parsing: text))), "\(text)")
    }
  }
}
