extension RecordJSON {
  /// `Tech;Gaming`, `Tech|Gaming`, or a list as Python writes one, `['Tech', 'Rock & Roll']`:
  /// quoted items with Python's escapes (`\\`, `\'`, `\"`, `\n`, `\t`, `\r`, `\xhh`, `\uhhhh`),
  /// separated by commas (the spaces between items dropped, those inside kept). Brackets around
  /// items without quotes hold a plain list, separated by `;` or `|` when there is one, by
  /// commas otherwise, its items kept as written (as a plain list's are). A CSV's `interests`
  /// column, and a JSON line's `interests` written as a string (pandas' `read_csv` then
  /// `to_json` writes the Python list as one).
  public static func interestList(_ s: String) -> [String] {
    let t = s.trimmingWhitespace()
    guard t.hasPrefix("["), t.hasSuffix("]"), t.count >= 2 else { return RecordJSON.splitList(t) }
    let inner = String(t.dropFirst().dropLast())
    guard inner.contains(where: { $0 == "'" || $0 == "\"" }) else {
      if inner.contains(where: { $0 == ";" || $0 == "|" }) { return RecordJSON.splitList(inner) }
      return inner.split(separator: ",").map(String.init).filter { !$0.allSatisfy(\.isWhitespace) }
    }
    var items: [String] = []
    var current = ""
    var quote: Character?
    var chars = inner.makeIterator()
    while let c = chars.next() {
      if let q = quote {
        if c == q {
          quote = nil
        } else if c == "\\", let e = chars.next() {
          current += Self.escaped(e, &chars)
        } else {
          current.append(c)
        }
      } else if c == "'" || c == "\"" {
        quote = c
      } else if c == "," {
        items.append(current.trimmingWhitespace())
        current = ""
      } else {
        current.append(c)
      }
    }
    items.append(current.trimmingWhitespace())
    return items.filter { !$0.isEmpty }
  }

  /// What a backslash and `e` (and what follows, for `\x` and `\u`) stand for in a Python string.
  private static func escaped(_ e: Character, _ rest: inout String.Iterator) -> String {
    func hex(_ n: Int) -> String {
      var digits = ""
      for _ in 0..<n { if let d = rest.next() { digits.append(d) } }
      if let v = UInt32(digits, radix: 16), let scalar = Unicode.Scalar(v) { return String(Character(scalar)) }
      return "\\\(e)" + digits
    }
    switch e {
    case "n": return "\n"
    case "t": return "\t"
    case "r": return "\r"
    case "x": return hex(2)
    case "u": return hex(4)
    case "U": return hex(8)
    case "\\", "'", "\"": return String(e)
    default: return "\\" + String(e)
    }
  }
}
