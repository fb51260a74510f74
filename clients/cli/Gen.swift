import ArgumentParser
import AudienceClient
import AudienceCore
internal import Glibc

/// `audience gen`
struct Gen: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Print deterministic synthetic user records (for demos, tests and benchmarks).",
    discussion: """
      Writes COUNT records as JSON lines ({"data": {...}}) or CSV (a header, then one row per \
      record; interests separated by ;) on standard output or to --output. The same seed always \
      gives the same records. The data is skewed like real traffic: a few countries dominate, \
      ages cluster around 24, 40 and 60, 0-4 interests of 18 (the first listed most often: Tech \
      about 30 times as often as Banking); about 8% of records bring a new cookie for an email \
      already seen (repeated-email cohorts), about 7% update a cookie already seen with a later \
      record, and about 1% give a cookie already seen another person's email (merged \
      profiles). The output is data either way; --json and --socket are accepted and ignored.
      """)

  enum Format: String, ExpressibleByArgument, CaseIterable { case csv, jsonl }

  @OptionGroup var global: GlobalOptions
  @Option(parsing: .unconditional, help: "How many records.") var count: Int
  @Option(parsing: .unconditional, help: "Random seed.") var seed: UInt64 = 42
  @Option(help: "csv or jsonl.") var format: Format = .jsonl
  @Option(help: "Write here instead of standard output.") var output: String?

  func validate() throws {
    if count < 0 { throw ValidationError("--count must be at least 0") }
  }

  func run() throws {
    let target = output ?? "standard output"
    guard let out = output.map({ fopen($0, "w") }) ?? fdopen(1, "w") else { throw Output.cannotWrite(target) }
    // Closed (or flushed) here, not on the way out: what the buffer held is written then, and a
    // failure to is a failure of the command.
    var open = true
    defer { if open { _ = output != nil ? fclose(out) : fflush(out) } }
    try generate(into: out, target)
    open = false
    if (output != nil ? fclose(out) : fflush(out)) != 0 { throw Output.cannotWrite(target) }
  }

  private func generate(into out: UnsafeMutablePointer<FILE>, _ target: String) throws {
    var generator = PeopleGenerator(seed: seed)
    var chunk = ""
    if format == .csv { chunk += PeopleGenerator.csvHeader + "\n" }
    for _ in 0..<count {
      let r = generator.next()
      chunk += format == .csv ? PeopleGenerator.csv(r) : RecordJSON.data(r).serializedRecord
      chunk += "\n"
      if chunk.utf8.count > 1 << 16 {
        try write(chunk, out, target)
        chunk = ""
      }
    }
    try write(chunk, out, target)
  }

  private func write(_ text: String, _ out: UnsafeMutablePointer<FILE>, _ target: String) throws {
    var text = text
    let ok = text.withUTF8 { fwrite($0.baseAddress, 1, $0.count, out) == $0.count }
    if !ok { throw Output.cannotWrite(target) }
  }
}

extension JSONValue {
  /// `{"data": ...}` on one line.
  var serializedRecord: String { JSONValue.object([("data", self)]).serialized() }
}

/// The records `audience gen` prints. A SplitMix64 stream, so a seed fixes the output.
struct PeopleGenerator {
  private var state: UInt64
  /// People seen, for repeated emails and updates (the latest 100,000, so memory stays bounded).
  private var people: [(cookie: String, email: String, record: Record)] = []
  private var n = 0

  static let countries: [(String, [String], Int)] = [
    ("USA", ["California", "Texas", "New York", "Florida", "Illinois"], 40),
    ("India", ["Maharashtra", "Karnataka", "Delhi", "Tamil Nadu"], 22),
    ("Canada", ["Ontario", "Quebec", "British Columbia"], 10),
    ("UK", ["England", "Scotland", "Wales"], 9),
    ("Germany", ["Bavaria", "Berlin", "Hesse"], 8),
    ("Brazil", ["São Paulo", "Rio de Janeiro"], 6),
    ("Japan", ["Tokyo", "Osaka"], 5),
  ]
  static let interests = [
    "Tech", "Gaming", "AI", "Finance", "Cricket", "Movies", "Sports", "Crypto", "Travel", "Music", "Football", "Drama",
    "Stock Market", "Cooking", "Yoga", "Fashion", "Hollywood", "Banking",
  ]
  static let csvHeader = "cookie,email,phone_number,created_at,state,country,city,age,gender,income,education,interests"

  init(seed: UInt64) { state = seed }

  private mutating func random() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  private mutating func below(_ n: Int) -> Int { Int(random() % UInt64(n)) }

  /// An interest, the first listed most often: the smaller of two picks, so the i-th of 18
  /// comes (35 - 2i) times in 324 (Tech 11%, Banking 0.3%: 35 to 1, about 30 to 1 once a
  /// record's repeats are dropped).
  private mutating func interest() -> String {
    Self.interests[min(below(Self.interests.count), below(Self.interests.count))]
  }
  private mutating func chance(_ p: Double) -> Bool { Double(random() >> 11) / Double(1 << 53) < p }

  private mutating func fresh(cookie: String, email: String, minute: Int) -> Record {
    var pick = below(100)
    var country = Self.countries[0]
    for c in Self.countries {
      if pick < c.2 { country = c; break }
      pick -= c.2
    }
    let mode = [24, 40, 60][below(3)]
    let age = max(14, min(95, mode + below(11) - 5 + below(5) - 2))
    var chosen: [String] = []
    for _ in 0..<below(5) {
      let i = interest()
      if !chosen.contains(i) { chosen.append(i) }
    }
    let income = chance(0.05) ? ["High", "Medium", "Low"][below(3)] : String((15 + below(186)) * 1000)
    return Record(
      cookie: cookie, email: email, phoneNumber: chance(0.7) ? String(2_000_000_000 + below(7_999_999_999)) : nil,
      createdAt: Timestamp(seconds: 1_735_689_600 + Int64(minute) * 60 + Int64(below(60))),
      location: Location(state: country.1[below(country.1.count)], country: country.0, city: "City\(below(300))"),
      demographics: Demographics(
        age: chance(0.95) ? age : nil, gender: ["Male", "Female", "Female", "Male", "Non-binary"][below(5)],
        income: income, education: ["Bachelor's", "Master's", "PhD", "High School"][below(4)]),
      interests: chosen)
  }

  /// The next record.
  mutating func next() -> Record {
    defer { n += 1 }
    let minute = n * 7 + below(7)
    if people.count > 10, chance(0.08) {
      // A new cookie for an email already seen.
      let j = below(people.count)
      let r = fresh(cookie: "c\(n)", email: people[j].email, minute: minute)
      remember(("c\(n)", people[j].email, r))
      return r
    }
    if people.count > 10, chance(0.07) {
      // A later record for a cookie already seen: a birthday, a move, a new interest.
      let j = below(people.count)
      var r = people[j].record
      r.createdAt = Timestamp(seconds: 1_735_689_600 + Int64(minute) * 60)
      r.demographics.age = r.demographics.age.map { $0 + 1 }
      if chance(0.3) { r.location.city = "City\(below(300))" }
      r.interests = [interest()]
      people[j].record = r
      return r
    }
    if people.count > 10, chance(0.01) {
      // A cookie already seen signs in with another person's email: the two profiles merge.
      let j = below(people.count)
      let k = below(people.count)
      if people[j].email != people[k].email {
        var r = people[j].record
        r.createdAt = Timestamp(seconds: 1_735_689_600 + Int64(minute) * 60)
        r.email = people[k].email
        people[j].record = r
        people[j].email = people[k].email
        return r
      }
    }
    let r = fresh(cookie: "c\(n)", email: "user\(n)@example.com", minute: minute)
    remember(("c\(n)", "user\(n)@example.com", r))
    return r
  }

  private mutating func remember(_ person: (cookie: String, email: String, record: Record)) {
    if people.count < 100_000 { people.append(person) } else { people[below(people.count)] = person }
  }

  /// One CSV row in `csvHeader`'s order.
  static func csv(_ r: Record) -> String {
    func field(_ s: String?) -> String {
      guard let s else { return "" }
      if s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
        return "\"" + s.replacingAll("\"", with: "\"\"") + "\""
      }
      return s
    }
    return [
      field(r.cookie), field(r.email), field(r.phoneNumber), field(r.createdAt?.iso8601), field(r.location.state),
      field(r.location.country), field(r.location.city), field(r.demographics.age.map(String.init)),
      field(r.demographics.gender), field(r.demographics.income), field(r.demographics.education),
      field(r.interests.joined(separator: ";")),
    ].joined(separator: ",")
  }
}

extension String {
  func replacingAll(_ target: Character, with replacement: String) -> String {
    var out = ""
    for c in self { if c == target { out += replacement } else { out.append(c) } }
    return out
  }
}
