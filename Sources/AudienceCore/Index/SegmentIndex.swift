/// The columnar in-memory index of live profiles, kept in step with the identity graph on
/// every write (so a query sees a record as soon as it is acknowledged) and rebuilt when the
/// graph is replayed at start-up.
///
/// Each string attribute is dictionary-encoded: a code column (4 bytes per profile) and a
/// posting set per value. Ages are one byte per profile with a posting set per year.
/// Interests are posting sets per spelling, grouped by folded form. Filters become bitmap
/// algebra; counts become popcounts.
struct SegmentIndex: Sendable {
  enum Column: Int, CaseIterable {
    case gender, country, state, city, education, income

    init(_ field: StringField) {
      switch field {
      case .gender: self = .gender
      case .country: self = .country
      case .state: self = .state
      case .city: self = .city
      case .education: self = .education
      }
    }
  }

  static let noAge: UInt8 = .max
  static let maxAge = 130

  /// Ids below this exist or existed (profile ids are dense).
  var universe = 0
  var alive = Bitmap()
  var dictionaries = [ValueDictionary](repeating: ValueDictionary(), count: Column.allCases.count)
  var codes = [[UInt32]](repeating: [], count: Column.allCases.count)
  var postings = [[PostingSet]](repeating: [PostingSet()], count: Column.allCases.count)
  var ages: [UInt8] = []
  var agePostings = [PostingSet](repeating: PostingSet(), count: maxAge + 1)
  var interestDictionary = ValueDictionary()
  var interestCodes: [InterestCodes] = []
  var interestPostings: [PostingSet] = [PostingSet()]
  /// Per income code: its numeric value, when it is a number.
  var incomeNumbers: [Int64?] = [nil]
  /// Per profile: when its first and latest records were created (seconds since the epoch).
  var created: [Int64] = []
  var seen: [Int64] = []
  /// Profiles with a repeated email.
  var cohort = Bitmap()
  /// Set while posting sets are left behind the columns (SegmentIndex+Deferred.swift).
  var deferred: DeferredPostings?

  private mutating func grow(to id: Int) {
    guard id >= universe else { return }
    let n = id + 1 - universe
    for c in codes.indices { codes[c].append(contentsOf: repeatElement(0, count: n)) }
    ages.append(contentsOf: repeatElement(Self.noAge, count: n))
    interestCodes.append(contentsOf: repeatElement(InterestCodes(), count: n))
    created.append(contentsOf: repeatElement(0, count: n))
    seen.append(contentsOf: repeatElement(0, count: n))
    universe = id + 1
  }

  private mutating func set(_ column: Column, _ id: Int, _ value: String?) {
    let c = column.rawValue
    let old = codes[c][id]
    // Most updates leave a value as it was: comparing is cheaper than hashing it.
    if let value, old != 0, dictionaries[c].values[Int(old)] == value { return }
    let new = value.map { dictionaries[c].code(for: $0) } ?? 0
    guard new != old else { return }
    codes[c][id] = new
    if Int(new) >= postings[c].count {
      postings[c].append(contentsOf: repeatElement(PostingSet(), count: Int(new) + 1 - postings[c].count))
      if column == .income {
        for k in incomeNumbers.count...Int(new) { incomeNumbers.append(Filter.numericIncome(dictionaries[c].values[k])) }
      }
    }
    guard deferred == nil else { return }
    repost(id, column: c, from: old, to: new)
  }

  /// Moves a profile between a column's posting sets (code 0: none).
  mutating func repost(_ id: Int, column c: Int, from old: UInt32, to new: UInt32) {
    if old != 0 { postings[c][Int(old)].remove(id, universe: universe) }
    if new != 0 { postings[c][Int(new)].insert(id, universe: universe) }
  }

  private mutating func setAge(_ id: Int, _ age: Int?) {
    let new = age.flatMap { (0...Self.maxAge).contains($0) ? UInt8($0) : nil } ?? Self.noAge
    let old = ages[id]
    guard new != old else { return }
    ages[id] = new
    guard deferred == nil else { return }
    repost(id, age: old, as: new)
  }

  /// Moves a profile between age posting sets (`noAge`: none).
  mutating func repost(_ id: Int, age old: UInt8, as new: UInt8) {
    if old != Self.noAge { agePostings[Int(old)].remove(id, universe: universe) }
    if new != Self.noAge { agePostings[Int(new)].insert(id, universe: universe) }
  }

  private mutating func setInterests(_ id: Int, _ interests: Row.Interests) {
    var new = InterestCodes()
    switch interests {
    case .all(let set):
      for source in set { new.insert(interestDictionary.code(for: source.spelling)) }
    case .shown(let spellings):
      for spelling in spellings { new.insert(interestDictionary.code(for: spelling)) }
    }
    let old = interestCodes[id]
    guard new != old else { return }
    if let top = new.last, Int(top) >= interestPostings.count {
      interestPostings.append(contentsOf: repeatElement(PostingSet(), count: Int(top) + 1 - interestPostings.count))
    }
    interestCodes[id] = new
    guard deferred == nil else { return }
    repost(id, interests: old, as: new)
  }

  /// Moves a profile between interest posting sets.
  mutating func repost(_ id: Int, interests old: InterestCodes, as new: InterestCodes) {
    for c in old where new.firstIndex(of: c) == nil { interestPostings[Int(c)].remove(id, universe: universe) }
    for c in new where old.firstIndex(of: c) == nil { interestPostings[Int(c)].insert(id, universe: universe) }
  }

  /// Brings a profile's entry up to date (inserting it when new).
  /// - Parameters:
  ///   - p: the profile as it is now.
  ///   - interestCap: most interests a profile shows; the index holds the ones shown.
  mutating func update(_ p: Profile, interestCap: Int) { update(Row(p, interestCap: interestCap)) }

  /// What the index holds of one profile, taken from it so that it can be indexed elsewhere
  /// (another thread) while the profile changes on.
  struct Row: Sendable {
    var id: Int
    var inCohort: Bool
    var created: Int64
    var seen: Int64
    var gender, country, state, city, education, income: String?
    var age: Int?
    var interests: Interests

    /// A profile's interests as the index holds them: all of them (the profile's own set,
    /// shared rather than copied into an array), or the ones shown when there are more than the
    /// cap.
    enum Interests: Sendable {
      case all(InterestSet)
      case shown([String])
    }

    init(_ p: borrowing Profile, interestCap: Int) {
      id = p.id
      inCohort = p.inCohort
      created = p.first.createdAt.seconds
      seen = p.last.createdAt.seconds
      gender = p.gender?.value
      country = p.country?.value
      state = p.state?.value
      city = p.city?.value
      education = p.education?.value
      income = p.income?.value
      age = p.age?.value
      interests = p.interests.count <= interestCap ? .all(p.interests) : .shown(p.interestList(cap: interestCap))
    }

    /// The row of a removal (`IndexChange(removing:)`): the id, nothing else.
    init(removing id: Int) {
      self.id = id
      inCohort = false
      created = 0
      seen = 0
      interests = .shown([])
    }
  }

  mutating func update(_ row: Row) {
    let id = row.id
    if deferred != nil { keepPosted(id) }
    grow(to: id)
    alive.insert(id)
    if row.inCohort { cohort.insert(id) } else { cohort.remove(id) }
    created[id] = row.created
    seen[id] = row.seen
    set(.gender, id, row.gender)
    set(.country, id, row.country)
    set(.state, id, row.state)
    set(.city, id, row.city)
    set(.education, id, row.education)
    set(.income, id, row.income)
    setAge(id, row.age)
    setInterests(id, row.interests)
  }

  /// Drops a profile that was merged away.
  /// - Parameters:
  ///   - id: its id.
  mutating func remove(_ id: Int) {
    guard id >= 0, id < universe, alive.contains(id) else { return }
    if deferred != nil { keepPosted(id) }
    for column in Column.allCases { set(column, id, nil) }
    setAge(id, nil)
    setInterests(id, .shown([]))
    cohort.remove(id)
    alive.remove(id)
  }

  /// Bytes held by the index (columns, dictionaries, postings).
  var memoryBytes: Int {
    var n = alive.memoryBytes + cohort.memoryBytes + ages.capacity + interestDictionary.memoryBytes
    n += (created.capacity + seen.capacity) * 8
    for c in codes { n += c.capacity * 4 }
    for d in dictionaries { n += d.memoryBytes }
    for ps in postings { n += ps.reduce(0) { $0 + $1.memoryBytes + 24 } }
    n += agePostings.reduce(0) { $0 + $1.memoryBytes + 24 }
    n += interestPostings.reduce(0) { $0 + $1.memoryBytes + 24 }
    n += interestCodes.reduce(interestCodes.capacity * MemoryLayout<InterestCodes>.stride) { $0 + $1.heapBytes }
    return n + deferredMemoryBytes
  }
}

extension Profile {
  /// What the segment index holds of this profile. Mutating only so that a profile in the graph's
  /// array is read in place: a copy would retain each of its strings and arrays.
  /// Keeps the interests it shows from then on (`InterestSet.keepShown`).
  mutating func indexRow(interestCap: Int) -> SegmentIndex.Row {
    interests.keepShown(cap: interestCap)
    return SegmentIndex.Row(self, interestCap: interestCap)
  }

  /// The index change bringing this profile's entry up to date.
  mutating func indexChange(interestCap: Int) -> IndexChange {
    interests.keepShown(cap: interestCap)
    return IndexChange(update: SegmentIndex.Row(self, interestCap: interestCap))
  }
}
