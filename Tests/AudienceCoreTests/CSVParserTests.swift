import Testing

@testable import AudienceCore

@Suite("CSV parser")
struct CSVParserTests {
  /// Parses in chunks of `chunk` bytes (0: all at once).
  static func parse(_ text: String, chunk: Int = 0) -> [CSVRow] {
    var p = CSVParser()
    let bytes = Array(text.utf8)
    var rows: [CSVRow] = []
    if chunk == 0 {
      rows = p.feed(bytes)
    } else {
      var i = 0
      while i < bytes.count {
        rows += p.feed(bytes[i..<min(i + chunk, bytes.count)])
        i += chunk
      }
    }
    return rows + p.finish()
  }

  /// The parser copies plain runs of a field at once, and hands a plain whole line over in place;
  /// fed one byte at a time it can do neither. Both must read random CSV-like bytes (quotes, separators, CR, LF, a BOM, NUL, multi-byte and invalid
  /// UTF-8, fields past the length limit) the same way.
  @Test func runsAndSingleBytesReadTheSame() {
    var rng = SystemRandomNumberGenerator()
    let alphabet: [[UInt8]] = [
      [0x2C], [0x22], [0x0A], [0x0D, 0x0A], [0x0D], Array("ab".utf8), Array("Zürich".utf8), [0xFF], [0xEF, 0xBB, 0xBF],
      Array(" x;y|z ".utf8), Array("\"\"".utf8), [0x00],
    ]
    for _ in 0..<2000 {
      var bytes: [UInt8] = []
      for _ in 0..<Int.random(in: 0...40, using: &rng) { bytes += alphabet.randomElement(using: &rng)! }
      let limit = Bool.random(using: &rng) ? Int.random(in: 3...12, using: &rng) : 1 << 20
      var whole = CSVParser(maxFieldBytes: limit)
      let expected = whole.feed(bytes) + whole.finish()
      var single = CSVParser(maxFieldBytes: limit)
      var got: [CSVRow] = []
      for b in bytes { got += single.feed([b]) }
      got += single.finish()
      #expect(got == expected, "\(bytes) limit \(limit)")
      if got != expected { return }
    }
  }

  /// Interest lists are cut on their UTF-8 bytes; the result must be the character-level split
  /// it replaced (items of only whitespace, Unicode whitespace included, dropped; others kept
  /// as they are).
  @Test func interestListsSplitAsCharactersWould() {
    func reference(_ s: String) -> [String] {
      s.split(whereSeparator: { $0 == ";" || $0 == "|" }).map(String.init).filter { !$0.allSatisfy(\.isWhitespace) }
    }
    var rng = SystemRandomNumberGenerator()
    let pieces = [";", "|", " ", "\t", "\u{00A0}", "\u{2003}", "AI", "Zürich", "e\u{0301}", "🎮", ";;", "| |", "\n"]
    for _ in 0..<3000 {
      var s = ""
      for _ in 0..<Int.random(in: 0...10, using: &rng) { s += pieces.randomElement(using: &rng)! }
      #expect(RecordJSON.splitList(s) == reference(s), "\(s.debugDescription)")
    }
  }

  @Test(arguments: [0, 1, 2, 3, 7])
  func edgeCases(chunk: Int) {
    let text = "\u{FEFF}cookie,city,interests\r\n"  // BOM and CRLF
      + "c1,\"Washington, D.C.\",\"Tech;Gaming\"\r\n"  // quoted comma
      + "c2,\"He said \"\"hi\"\"\",\r\n"  // doubled quotes, empty last field
      + "\r\n"  // empty line
      + "c3,\"two\nlines\",AI\n"  // embedded newline
      + "c4,short\n"  // missing column
      + "c5,a,b,extra\n"  // extra column
      + "c6,Zürich,Ski"  // no final newline, UTF-8
    let rows = Self.parse(text, chunk: chunk)
    #expect(
      rows == [
        CSVRow(line: 1, fields: ["cookie", "city", "interests"]),
        CSVRow(line: 2, fields: ["c1", "Washington, D.C.", "Tech;Gaming"]),
        CSVRow(line: 3, fields: ["c2", "He said \"hi\"", ""]),
        CSVRow(line: 5, fields: ["c3", "two\nlines", "AI"]),
        CSVRow(line: 7, fields: ["c4", "short"]),
        CSVRow(line: 8, fields: ["c5", "a", "b", "extra"]),
        CSVRow(line: 9, fields: ["c6", "Zürich", "Ski"]),
      ])
  }

  @Test(arguments: [0, 1, 5])
  func brokenRowsAreReportedAndTheRestKept(chunk: Int) {
    let text = "cookie,city\n" + "c1,ok\n" + "c2,bro\"ken\n" + "c3,\"closed\"junk\n" + "c4,fine\n" + "c5,\"never closed\n"
    let rows = Self.parse(text, chunk: chunk)
    #expect(rows.map(\.line) == [1, 2, 3, 4, 5, 6])
    #expect(rows[1].error == nil && rows[1].fields == ["c1", "ok"])
    #expect(rows[2].error?.contains("quote inside an unquoted field") == true)
    #expect(rows[3].error?.contains("text after the closing quote") == true)
    #expect(rows[4] == CSVRow(line: 5, fields: ["c4", "fine"]))
    #expect(rows[5].error?.contains("never closed") == true)
  }

  @Test func invalidUTF8IsAnError() {
    var p = CSVParser()
    let rows = p.feed(Array("a,b\n".utf8) + [0x63, 0xFF, 0x2C, 0x64, 0x0A]) + p.finish()
    #expect(rows.count == 2)
    #expect(rows[1].error == "field 1 is not valid UTF-8")
  }

  /// A quoted field is read up to 16 times the field limit before its quote is taken for one
  /// never closed (a longer field that closes is refused alone: `aClosedQuotedFieldPastTheLimit`).
  @Test func aMissingQuoteCannotSwallowTheFile() {
    var p = CSVParser(maxFieldBytes: 16)
    let rows = p.feed(Array("c1,\"".utf8) + Array(repeating: 0x61, count: 300) + Array("\nc2,x\n".utf8)) + p.finish()
    #expect(rows.first?.error?.contains("longer than 256 bytes") == true, "\(rows)")
    #expect(rows.last == CSVRow(line: 2, fields: ["c2", "x"]))
  }

  /// A quoted field past the field limit that closes (its quote followed by a comma, a line
  /// break or the end) is refused alone, and the lines it held are not rows: it was taken for a
  /// quote never closed, and each of its lines was stored as a record (`w`, 600,000 of them).
  /// The same in any chunking.
  @Test(arguments: [1, 7, 1 << 16])
  func aClosedQuotedFieldPastTheLimitIsRefusedAlone(chunk: Int) {
    let text = "cookie,notes,age\nN1,\"" + String(repeating: "w\n", count: 40) + "\",2\nN3,e,abc\nN4,\"" + String(repeating: "v\n", count: 30) + "\"\nN5,f,4\n\"" + String(repeating: "u\n", count: 30) + "\""
    let rows = Self.parsed(text, maxFieldBytes: 16, chunk: chunk)
    #expect(rows.map(\.line) == [1, 2, 43, 44, 75, 76], "\(rows)")
    #expect(rows[1].error == "a quoted field starting on line 2 is longer than 16 bytes (it ends on line 42); the row is not stored", "\(rows[1])")
    #expect(rows[2] == CSVRow(line: 43, fields: ["N3", "e", "abc"]))
    #expect(rows[3].error?.hasPrefix("a quoted field starting on line 44 is longer than 16 bytes (it ends on line 74)") == true, "\(rows[3])")
    #expect(rows[4] == CSVRow(line: 75, fields: ["N5", "f", "4"]))
    #expect(rows[5].error?.hasPrefix("a quoted field starting on line 76 is longer than 16 bytes (it ends on line 106)") == true, "\(rows[5])")
  }

  /// A quote never closed, followed later by a quoted field (`"D.C."`): the later quote closed
  /// the first field with text after it, and the lines between were counted nowhere. They are
  /// read again as rows.
  @Test(arguments: [1, 5, 1 << 16])
  func aQuoteNeverClosedBeforeALaterQuotedFieldLosesNoRows(chunk: Int) {
    let text = "cookie,city,age\nu1,a,1\nu2,\"oops,2\nu3,b,3\nu4,c,4\nu5,d,x\nu6,\"D.C.\",6\nu7,e,7\n"
    let rows = Self.parsed(text, chunk: chunk)
    #expect(rows.map(\.line) == [1, 2, 3, 4, 5, 6, 7, 8], "\(rows)")
    #expect(rows[2].error?.contains("never closed") == true, "\(rows[2])")
    #expect(rows.filter { $0.error == nil }.map { $0.fields[0] } == ["cookie", "u1", "u3", "u4", "u5", "u6", "u7"], "\(rows)")
    #expect(rows[6] == CSVRow(line: 7, fields: ["u6", "D.C.", "6"]))
    // A carriage return after the later quote is read again too.
    var q = CSVParser()
    let again = q.feed(Array("1,\"x\n2,\"\rD\"\n".utf8)) + q.finish()
    #expect(again.map(\.line) == [1, 2], "\(again)")
    #expect(again[1] == CSVRow(line: 2, fields: ["2", "\rD"]), "\(again)")
  }

  /// A carriage return outside quotes ends a line only before a line break (CRLF); elsewhere it
  /// is part of the field, as inside quotes (`Ber\rlin` was read as "Berlin").
  @Test(arguments: [1, 2, 3, 64])
  func aBareCarriageReturnIsKept(chunk: Int) {
    let rows = Self.parsed("c,city\r\ncrx1,Ber\rlin\r\ncrx2,\rx,\r\r\ncrx3,end\r\r\ncrx4,\r\r\ncrx5,e\r", chunk: chunk)
    // CR CR LF (Python's csv module on Windows, a file opened without newline='') ends a line.
    #expect(rows == [
      CSVRow(line: 1, fields: ["c", "city"]), CSVRow(line: 2, fields: ["crx1", "Ber\rlin"]),
      CSVRow(line: 3, fields: ["crx2", "\rx", ""]), CSVRow(line: 4, fields: ["crx3", "end"]),
      CSVRow(line: 5, fields: ["crx4", ""]), CSVRow(line: 6, fields: ["crx5", "e"]),
    ], "\(rows)")
  }

  /// A carriage return before a quoted field is refused for what it is (the field was read as
  /// `Oslo` when every CR outside quotes was dropped).
  @Test(arguments: [1, 64])
  func aCarriageReturnBeforeAQuoteIsSaid(chunk: Int) {
    let rows = Self.parsed("c,city\nw5,\r\"Oslo\"\nw6,Bergen\n", chunk: chunk)
    #expect(rows.map(\.line) == [1, 2, 3], "\(rows)")
    #expect(rows[1].error == "a carriage return before a field's opening quote", "\(rows)")
    #expect(rows[2] == CSVRow(line: 3, fields: ["w6", "Bergen"]))
  }

  /// Rows holding a NUL byte are flagged as they are parsed (quoted or not, in any field), so
  /// only those need their fields searched for it; the flag does not carry over to the next row.
  @Test func aNULByteFlagsItsRowOnly() {
    var p = CSVParser()
    let bytes = Array("cookie,city\n".utf8) + [0x61, 0x00, 0x62] + Array(",x\nc2,\"q".utf8) + [0x00]
      + Array("\"\nc3,fine\n".utf8)
    let rows = p.feed(bytes) + p.finish()
    #expect(rows.map(\.hasNUL) == [false, true, true, false])
    #expect(rows[1].fields == ["a\u{0}b", "x"])
  }
}

extension CSVParserTests {
  /// The rows of `text`, fed to a parser in chunks of `chunk` bytes.
  static func parsed(_ text: String, maxFieldBytes: Int = 1 << 20, chunk: Int) -> [CSVRow] {
    var parser = CSVParser(maxFieldBytes: maxFieldBytes)
    let bytes = Array(text.utf8)
    var rows: [CSVRow] = []
    var at = 0
    while at < bytes.count {
      rows += parser.feed(bytes[at..<min(bytes.count, at + chunk)])
      at += chunk
    }
    return rows + parser.finish()
  }

  /// A row's fields and bytes are bounded: 70,000 commas (each an empty field, 8 bytes kept until
  /// the line ended: 300 MB of commas took 4.3 GB) or many fields within the field limit past 16
  /// times it are refused by their line, not kept, and the rows after them are read. The same in
  /// any chunking (a line within one chunk takes another path).
  @Test func aRowOfTooManyFieldsOrBytesIsRefused() {
    let commas = "c1," + String(repeating: ",", count: 70_000)
    let text = ["cookie,age", commas, "c2,2"].joined(separator: "\n") + "\n"
    for chunk in [4096, 1 << 20] {
      let rows = Self.parsed(text, maxFieldBytes: 1 << 20, chunk: chunk)
      #expect(rows.map(\.line) == [1, 2, 3], "chunk \(chunk)")
      #expect(rows[1].error == "the row has more than 65536 fields", "chunk \(chunk)")
      #expect(rows[1].fields.count <= 1, "chunk \(chunk): the refused row kept \(rows[1].fields.count) fields")
      #expect(rows[2].error == nil && rows[2].fields == ["c2", "2"])
    }
    let long = (0..<20).map { _ in "12345678" }.joined(separator: ",")  // 20 fields of 8 bytes
    let text2 = ["a,b", long, "x,y"].joined(separator: "\n") + "\n"
    for chunk in [1, 7, 4096] {
      let rows = Self.parsed(text2, maxFieldBytes: 8, chunk: chunk)
      #expect(rows.map(\.line) == [1, 2, 3], "chunk \(chunk)")
      #expect(rows[1].error == "the row is longer than 128 bytes", "chunk \(chunk)")
      #expect(rows[2].fields == ["x", "y"])
    }
  }

  /// A quote never closed swallowed the lines after it into one field; the rows there were lost
  /// without a word (42,832 good rows in a 3-million-row file, counted nowhere). They are read
  /// again as rows: only the broken row is refused. Past the field limit and at the file's end.
  @Test(arguments: [16, 64, 1 << 20])
  func theRowsAfterAQuoteNeverClosedAreRead(maxFieldBytes: Int) {
    let good = (0..<40).map { "g\($0),g\($0)@x.com,30" }
    let text = (["cookie,email,age", "q1,q1@x.com,30", "q2,\"unterminated@x.com,30"] + good).joined(separator: "\n") + "\n"
    for chunk in [1, 7, 4096] {
      let rows = Self.parsed(text, maxFieldBytes: maxFieldBytes, chunk: chunk)
      let refused = rows.filter { $0.error != nil }
      #expect(refused.map(\.line) == [3], "\(chunk): \(refused)")
      #expect(refused.first?.error?.contains("a quoted field starting on line 3 is") == true, "\(refused)")
      let read = rows.filter { $0.error == nil }.map { $0.fields[0] }
      #expect(read == ["cookie", "q1"] + (0..<40).map { "g\($0)" }, "chunk \(chunk), limit \(maxFieldBytes)")
      #expect(rows.last?.line == 43)
    }
  }

  /// What a review found in the first version of the re-reading: a doubled quote in the lines
  /// read again was read as one (rows corrupted or lost); a doubled quote at the limit restarted
  /// the field (every later line number low); the line break that passed the limit was counted
  /// into the region (a quote opening on the next line was not re-read); and a field full on its
  /// own line swallowed the next line. (line, fields or nil for a refused row)
  @Test(arguments: [
    (#"a,"oops\#nb,"","",c\#nd,e\#n"#, 1 << 20, [(1, nil), (2, ["b", "", "", "c"]), (3, ["d", "e"])]),
    (#"a,"oops\#nb,"",c\#nd,e\#n"#, 1 << 20, [(1, nil), (2, ["b", "", "c"]), (3, ["d", "e"])]),
    (#"c,"a\#nx,""\#ng3\#ng4\#ng5\#n"#, 8, [(1, nil), (2, ["x", ""]), (3, ["g3"]), (4, ["g4"]), (5, ["g5"])]),
    (#""a\#nx,""\#ng1\#ng2\#n"#, 4, [(1, nil), (2, ["x", ""]), (3, ["g1"]), (4, ["g2"])]),
    (#""a\#nbc\#n"x\#ny\#nz\#n"#, 4, [(1, nil), (2, ["bc"]), (3, nil), (4, ["y"]), (5, ["z"])]),
    (#""abcd\#nx,y\#nz\#n"#, 4, [(1, nil), (2, ["x", "y"]), (3, ["z"])]),
  ] as [(String, Int, [(Int, [String]?)])])
  func rowsReadAgainAreTheFilesBytes(_ text: String, _ limit: Int, _ expected: [(Int, [String]?)]) {
    for chunk in [1, 3, 1 << 16] {
      let rows = Self.parsed(text, maxFieldBytes: limit, chunk: chunk)
      let got = rows.map { ($0.line, $0.error == nil ? $0.fields : nil) }
      #expect(got.map(\.0) == expected.map(\.0), "\(text) in chunks of \(chunk): \(rows)")
      #expect(got.map(\.1) == expected.map(\.1), "\(text) in chunks of \(chunk): \(rows)")
    }
  }
}
