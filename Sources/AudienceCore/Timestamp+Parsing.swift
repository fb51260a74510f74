extension Timestamp {
  /// Parses the date forms records arrive in:
  /// - `MM/DD/YYYY HH:MM` (the original specification), also `MM/DD/YYYY HH:MM:SS` and `MM/DD/YYYY`;
  /// - ISO 8601: `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM`, `YYYY-MM-DDTHH:MM:SS`, optionally with a
  ///   fraction (dropped), and `Z` or an offset `±HH:MM` / `±HHMM` (converted to UTC);
  ///   a space may stand for the `T`.
  /// - Parameters:
  ///   - text: the text to parse; surrounding whitespace is ignored.
  /// - Returns: nil when the text is not one of these forms or not a real date.
  public init?(parsing text: String) {
    var text = text
    guard let parsed = text.withUTF8({ Timestamp(utf8: $0) }) else { return nil }
    self = parsed
  }

  /// As `init?(parsing:)`, from UTF-8 bytes.
  /// - Parameters:
  ///   - utf8: the text's bytes.
  public init?(utf8: UnsafeBufferPointer<UInt8>) {
    var scanner = DateScanner(utf8)
    scanner.skipSpaces()
    guard let parsed = scanner.slashForm() ?? scanner.isoForm() else { return nil }
    self = parsed
  }
}

/// A tiny cursor over the UTF-8 bytes of a date.
private struct DateScanner {
  let bytes: UnsafeBufferPointer<UInt8>
  var i = 0

  init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

  mutating func skipSpaces() { while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x09 { i += 1 } }

  var atEnd: Bool {
    var j = i
    while j < bytes.count, bytes[j] == 0x20 || bytes[j] == 0x09 { j += 1 }
    return j == bytes.count
  }

  mutating func number(minDigits: Int, maxDigits: Int) -> Int? {
    var value = 0, n = 0
    while i < bytes.count, n < maxDigits, bytes[i] >= 0x30, bytes[i] <= 0x39 {
      value = value * 10 + Int(bytes[i] - 0x30); i += 1; n += 1
    }
    return n >= minDigits ? value : nil
  }

  mutating func eat(_ c: UInt8) -> Bool {
    guard i < bytes.count, bytes[i] == c else { return false }
    i += 1; return true
  }

  /// `MM/DD/YYYY[ HH:MM[:SS]]`
  mutating func slashForm() -> Timestamp? {
    let start = i
    defer { if i != bytes.count { i = start } }
    guard let month = number(minDigits: 1, maxDigits: 2), eat(0x2F),
      let day = number(minDigits: 1, maxDigits: 2), eat(0x2F),
      let year = number(minDigits: 4, maxDigits: 4)
    else { i = start; return nil }
    var hour = 0, minute = 0, second = 0
    if !atEnd {
      guard eat(0x20) || eat(0x54) else { i = start; return nil }
      skipSpaces()
      guard let h = number(minDigits: 1, maxDigits: 2), eat(0x3A), let m = number(minDigits: 2, maxDigits: 2)
      else { i = start; return nil }
      hour = h; minute = m
      if eat(0x3A) {
        guard let s = number(minDigits: 2, maxDigits: 2) else { i = start; return nil }
        second = s
      }
    }
    guard atEnd else { i = start; return nil }
    i = bytes.count
    return Timestamp(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
  }

  /// `YYYY-MM-DD[(T| )HH:MM[:SS[.fff]]][Z|±HH:MM|±HHMM]`
  mutating func isoForm() -> Timestamp? {
    guard let year = number(minDigits: 4, maxDigits: 4), eat(0x2D),
      let month = number(minDigits: 2, maxDigits: 2), eat(0x2D),
      let day = number(minDigits: 2, maxDigits: 2)
    else { return nil }
    var hour = 0, minute = 0, second = 0, offset = 0
    if !atEnd {
      guard eat(0x54) || eat(0x74) || eat(0x20) else { return nil }
      guard let h = number(minDigits: 2, maxDigits: 2), eat(0x3A), let m = number(minDigits: 2, maxDigits: 2)
      else { return nil }
      hour = h; minute = m
      if eat(0x3A) {
        guard let s = number(minDigits: 2, maxDigits: 2) else { return nil }
        second = s
        if eat(0x2E) || eat(0x2C) { guard number(minDigits: 1, maxDigits: 9) != nil else { return nil } }
      }
      if eat(0x5A) || eat(0x7A) {
      } else if i < bytes.count, bytes[i] == 0x2B || bytes[i] == 0x2D {
        let sign = bytes[i] == 0x2D ? -1 : 1
        i += 1
        guard let oh = number(minDigits: 2, maxDigits: 2), oh <= 23 else { return nil }
        _ = eat(0x3A)
        guard let om = number(minDigits: 2, maxDigits: 2), om <= 59 else { return nil }
        offset = sign * (oh * 3600 + om * 60)
      }
    }
    guard atEnd, var t = Timestamp(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
    else { return nil }
    t.seconds -= Int64(offset)
    // An offset must not carry the time out of the years a time is written and read in
    // (0001-01-01T00:00:00 ... 9999-12-31T23:59:59): stored so, it could not be read back.
    guard Timestamp.writable.contains(t.seconds) else { return nil }
    return t
  }
}
