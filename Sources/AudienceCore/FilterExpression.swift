/// The text form of a filter: `age:20..30 and (interest:Gaming or interest:AI) and not country:USA`.
///
/// Grammar (docs/QUERY.md), lowest precedence first:
///
///     expression := term ("or" term)*
///     term       := factor ("and" factor)*
///     factor     := "not" factor | "(" expression ")" | predicate
///     predicate  := field ":" value
///     value      := "quoted string" | bare      (bare: up to a space or parenthesis)
///
/// `and`, `or`, `not` are case-insensitive. A bare value may list alternatives with commas
/// (`country:USA,Canada`); numeric and date fields take `a..b`, `a..` or `..b`.
public enum FilterExpression {
  /// The fields a predicate may name.
  public static let fields = [
    "age", "gender", "country", "state", "city", "education", "income", "interest", "category", "cohort", "created",
    "seen",
  ]

  /// Deepest nesting of parentheses and `not` accepted (the wire's filter trees nest at most 32).
  public static let maxDepth = 30

  /// Parses an expression.
  /// - Parameters:
  ///   - text: the expression.
  /// - Throws: `invalidArgument` naming the column and what was expected there.
  public static func parse(_ text: String) throws(AudienceError) -> Filter {
    var p = Parser(Array(text))
    let filter = try p.expression()
    p.skipSpace()
    if !p.atEnd { throw p.error("expected \"and\", \"or\" or the end of the expression") }
    let size = filter.size
    try Filter.checkSize(nodes: size.nodes, values: size.values, field: "where")
    return filter
  }
}

private struct Parser {
  let chars: [Character]
  var i = 0
  /// Open parentheses and `not`s around the current position.
  var depth = 0

  init(_ chars: [Character]) { self.chars = chars }

  var atEnd: Bool { i >= chars.count }

  mutating func skipSpace() { while i < chars.count, chars[i].isWhitespace { i += 1 } }

  /// An error pointing at `at` (default: the current position), with the expression and a caret.
  func error(_ message: String, at position: Int? = nil) -> AudienceError {
    let at = position ?? i
    let found = at < chars.count ? "found \(describe(at))" : "found the end"
    let line = String(chars)
    let caret = String(repeating: " ", count: at) + "^"
    return .invalidField("where", "column \(at + 1): \(message), \(found)\n  \(line)\n  \(caret)")
  }

  private func describe(_ at: Int) -> String {
    var j = at
    while j < chars.count, !chars[j].isWhitespace, j - at < 20 { j += 1 }
    return "\"\(String(chars[at..<max(j, at + 1)]))\""
  }

  /// The next bare word (letters only) without consuming it, lower-cased.
  func peekKeyword() -> String? {
    var j = i
    while j < chars.count, chars[j].isLetter { j += 1 }
    guard j > i else { return nil }
    if j < chars.count, !(chars[j].isWhitespace || chars[j] == "(" || chars[j] == ")") { return nil }
    return String(chars[i..<j]).lowercased()
  }

  mutating func keyword(_ word: String) -> Bool {
    skipSpace()
    guard peekKeyword() == word else { return false }
    i += word.count
    return true
  }

  mutating func expression() throws(AudienceError) -> Filter {
    var parts = [try term()]
    while keyword("or") { parts.append(try term()) }
    return parts.count == 1 ? parts[0] : .any(parts)
  }

  mutating func term() throws(AudienceError) -> Filter {
    var parts = [try factor()]
    while keyword("and") { parts.append(try factor()) }
    return parts.count == 1 ? parts[0] : .all(parts)
  }

  mutating func factor() throws(AudienceError) -> Filter {
    skipSpace()
    // `depth` parentheses and nots enclose this factor: 30 may, the 31st may not.
    if depth > FilterExpression.maxDepth {
      throw error("expressions nest at most \(FilterExpression.maxDepth) deep (parentheses and not)")
    }
    if keyword("not") {
      depth += 1
      defer { depth -= 1 }
      return .not(try factor())
    }
    skipSpace()
    if i < chars.count, chars[i] == "(" {
      let open = i
      i += 1
      depth += 1
      defer { depth -= 1 }
      let inner = try expression()
      skipSpace()
      guard i < chars.count, chars[i] == ")" else {
        throw error("expected \")\" to close the \"(\" at column \(open + 1)")
      }
      i += 1
      return inner
    }
    return try predicate()
  }

  mutating func predicate() throws(AudienceError) -> Filter {
    let start = i
    while i < chars.count, chars[i].isLetter || chars[i] == "_" { i += 1 }
    let field = String(chars[start..<i]).lowercased()
    guard !field.isEmpty else {
      throw error("expected a predicate such as age:20..30 (fields: \(FilterExpression.fields.joined(separator: ", ")))")
    }
    guard let kind = Field(field) else {
      throw error("unknown field \"\(field)\"; fields are \(FilterExpression.fields.joined(separator: ", "))", at: start)
    }
    guard i < chars.count, chars[i] == ":" else { throw error("expected \":\" after \"\(field)\"") }
    i += 1
    let valueStart = i
    let (value, alternatives, empty) = try readValue()
    guard !value.isEmpty else { throw error("expected a value for \(field)", at: valueStart) }
    let filter = try kind.filter(value, alternatives: alternatives) { message throws(AudienceError) in
      throw error("\(field): \(message)", at: valueStart)
    }
    // `country:USA,` or `interest:AI,,ML`: a typo or a list built with nothing in it, which would
    // otherwise be read as the alternatives that are there. (`income:50,000` is an amount.)
    if let empty, filter.takesAlternatives {
      throw error("\(field): an empty alternative (nothing between two commas, or after the last one)", at: empty)
    }
    return filter
  }

  /// A quoted string (with `\"` and `\\` escapes) or a bare run up to a space or parenthesis,
  /// or both one after the other (`"03/10/2025 15:30"..`, `.."03/10/2025 15:30"`): the value, and
  /// its alternatives, split at the commas outside quotes (`"Washington, D.C.",Boston` is two).
  /// - Returns: also where the first empty alternative ends (its comma, or the value's end),
  ///   if there is one and there is a comma (`""` alone is one empty value, not a list).
  mutating func readValue() throws(AudienceError) -> (value: String, alternatives: [String], emptyAt: Int?) {
    var out = ""
    var alternatives: [String] = []
    var current = ""
    var emptyAt: Int?
    var commas = false
    while i < chars.count, !chars[i].isWhitespace, chars[i] != "(", chars[i] != ")" {
      if chars[i] == "\"" {
        let open = i
        i += 1
        while i < chars.count, chars[i] != "\"" {
          if chars[i] == "\\", i + 1 < chars.count { i += 1 }
          out.append(chars[i])
          current.append(chars[i])
          i += 1
        }
        guard i < chars.count else { throw error("unterminated quoted value starting at column \(open + 1)", at: open) }
        i += 1
      } else {
        out.append(chars[i])
        if chars[i] == "," {
          if !current.isEmpty { alternatives.append(current) } else if emptyAt == nil { emptyAt = i }
          commas = true
          current = ""
        } else {
          current.append(chars[i])
        }
        i += 1
      }
    }
    if !current.isEmpty { alternatives.append(current) } else if emptyAt == nil { emptyAt = i }
    return (out, alternatives, commas ? emptyAt : nil)
  }
}

private enum Field {
  case age, string(StringField), income, interest, category, cohort, created, seen

  init?(_ name: String) {
    switch name {
    case "age": self = .age
    case "gender": self = .string(.gender)
    case "country": self = .string(.country)
    case "state": self = .string(.state)
    case "city": self = .string(.city)
    case "education": self = .string(.education)
    case "income": self = .income
    case "interest", "interests": self = .interest
    case "category": self = .category
    case "cohort": self = .cohort
    case "created": self = .created
    case "seen": self = .seen
    default: return nil
    }
  }

  func filter(
    _ value: String, alternatives: [String], fail: (String) throws(AudienceError) -> Never
  ) throws(AudienceError) -> Filter {
    switch self {
    case .string(let field): return .strings(field, alternatives)
    case .interest: return .interests(any: alternatives)
    case .category: return .categories(alternatives)
    case .cohort:
      switch value.lowercased() {
      case "yes", "true": return .cohort(true)
      case "no", "false": return .cohort(false)
      default: try fail("expected yes or no")
      }
    case .age:
      let (lo, hi) = try Self.range(value, fail: fail) { s throws(AudienceError) in
        guard let n = Int64(s), (0...130).contains(n) else { try fail("\"\(s)\" is not an age (0 to 130)") }
        return (n, n)
      }
      return .age(min: lo, max: hi)
    case .income:
      // Not a number and not a range: income labels, as the records spell them.
      if Self.rangeDots(Array(value)) == nil, Self.money(value) == nil { return .incomeLabels(alternatives) }
      let (lo, hi) = try Self.range(value, fail: fail) { s throws(AudienceError) in
        guard let n = Self.money(s) else { try fail("\"\(s)\" is not an amount (like 30000, 30k or 1.5m)") }
        guard Self.wholeMoney(s) else {
          try fail("\"\(s)\" is not a whole amount: income bounds are whole numbers (100.9 is within 100..101)")
        }
        return (n, n)
      }
      // An amount with a suffix (12k) is also a label when a record spells its income so: such
      // an income is not a number (`Filter.numericIncome`), and no amount would match it.
      if Self.rangeDots(Array(value)) == nil, Filter.numericIncome(value) == nil {
        return .any([.income(min: lo, max: hi), .incomeLabels(alternatives)])
      }
      return .income(min: lo, max: hi)
    case .created, .seen:
      let (lo, hi) = try Self.range(value, fail: fail) { s throws(AudienceError) in
        guard let t = Timestamp(parsing: s) else {
          try fail("\"\(s)\" is not a date (2025-03-10, 2025-03-10T15:30 or 03/10/2025)")
        }
        // A bare date covers its whole day.
        let dateOnly = !s.contains(":")
        return (t.seconds, dateOnly ? t.seconds + 86_399 : t.seconds)
      }
      return self.isCreated ? .created(min: lo, max: hi) : .seen(min: lo, max: hi)
    }
  }

  private var isCreated: Bool { if case .created = self { true } else { false } }

  /// `a..b`, `a..`, `..b` or `a`; `bound` gives a value's (low, high) reading.
  private static func range(
    _ value: String, fail: (String) throws(AudienceError) -> Never, _ bound: (String) throws(AudienceError) -> (Int64, Int64)
  ) throws(AudienceError) -> (Int64?, Int64?) {
    let cs = Array(value)
    guard let dot = rangeDots(cs) else {
      let (lo, hi) = try bound(value)
      return (lo, hi)
    }
    let left = String(cs[..<dot]), right = String(cs[(dot + 2)...])
    let lo = left.isEmpty ? nil : try bound(left).0
    let hi = right.isEmpty ? nil : try bound(right).1
    if let lo, let hi, lo > hi { try fail("\(value) is an empty range: \(left) is past \(right)") }
    return (lo, hi)
  }

  /// Where the `..` of a range is, if the value is one.
  private static func rangeDots(_ cs: [Character]) -> Int? {
    cs.indices.first { $0 + 1 < cs.count && cs[$0] == "." && cs[$0 + 1] == "." }
  }

  /// The amount `s` writes (`30000`, `30,000`, `$30000`, `30k`, `1.5m`), unrounded; nil when it is not one.
  private static func amount(_ s: String) -> Double? {
    var text = s.lowercased()
    var scale = 1.0
    if text.hasSuffix("k") { scale = 1e3; text.removeLast() } else if text.hasSuffix("m") { scale = 1e6; text.removeLast() }
    text = text.filter { $0 != "," && $0 != "$" && $0 != "_" }
    guard !text.isEmpty, text.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }), let d = Double(text) else {
      return nil
    }
    return d * scale
  }

  /// Whether `money(s)` is exact (1.5m is; 100.9 is not, and was rounded to 101).
  private static func wholeMoney(_ s: String) -> Bool { amount(s).map { $0.rounded() == $0 } ?? false }

  private static func money(_ s: String) -> Int64? {
    guard let v = amount(s)?.rounded() else { return nil }
    return v < 9e18 ? Int64(v) : nil
  }
}

extension Filter {
  /// Whether the predicate reads a bare value's commas as alternatives (not an amount's).
  fileprivate var takesAlternatives: Bool {
    switch self {
    case .field, .interestsAny, .category, .incomeLabel: true
    default: false
    }
  }
}
