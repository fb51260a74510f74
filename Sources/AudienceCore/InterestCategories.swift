/// Rule-based interest categories (the original notebook's `assign_cohort`): a user's category
/// is the first category, in order, any of whose keywords equals one of its interests
/// (trimmed, lower-cased); otherwise the fallback.
public struct InterestCategories: Hashable, Sendable {
  public var order: [String]
  public var keywords: [String: [String]]
  public var fallback: String
  /// Folded keyword -> index of the first category that lists it.
  let index: [String: Int]

  /// - Parameters:
  ///   - order: category names in priority order.
  ///   - keywords: each category's keywords.
  ///   - fallback: the category of users matching none.
  public init(order: [String], keywords: [String: [String]], fallback: String) {
    self.order = order
    self.keywords = keywords
    self.fallback = fallback
    var index: [String: Int] = [:]
    for (i, name) in order.enumerated() {
      for k in keywords[name] ?? [] where index[Filter.fold(k)] == nil { index[Filter.fold(k)] = i }
    }
    self.index = index
  }

  /// The original specification's categories (`interest-categories.json`).
  public static let standard = InterestCategories(
    order: ["Sports", "Tech", "Movies", "Finance"],
    keywords: [
      "Sports": ["sports", "football", "basketball", "cricket", "tennis"],
      "Tech": ["tech", "ai", "gadgets", "programming", "blockchain"],
      "Movies": ["movies", "hollywood", "bollywood", "action", "drama"],
      "Finance": ["finance", "stock market", "investment", "banking", "crypto"],
    ],
    fallback: "Other")

  /// Reads the JSON form: `{"order": [...], "categories": {name: [keywords]}, "fallback": "Other"}`
  /// (keys starting with `_`, such as the original file's `_comment`, are ignored). Anything else
  /// is refused, naming the key: a category named twice (in `categories` or `order`), one
  /// `order` leaves out, a `fallback` that is not a new non-empty name, an unknown key (a
  /// misspelt `fallbak` was ignored, and repeated names gave Analyze's JSON repeated keys).
  /// - Parameters:
  ///   - json: the document.
  public init(json: JSONValue) throws(AudienceError) {
    guard case .object(let members) = json else {
      throw .invalidField("categories file", "must be a JSON object with \"categories\", and optionally \"order\" and \"fallback\"")
    }
    for (key, _) in members where !["order", "categories", "fallback"].contains(key) && !key.hasPrefix("_") {
      throw .invalidField(key, "is not a key of a categories file (expected order, categories, fallback; keys starting with _ are ignored)")
    }
    guard case .object(let cats)? = json["categories"] else {
      throw .invalidField("categories", "must be an object of category name to keyword list")
    }
    var keywords: [String: [String]] = [:]
    for (name, value) in cats {
      guard !name.trimmingWhitespace().isEmpty else { throw .invalidField("categories", "a category's name is empty") }
      guard keywords[name] == nil else { throw .invalidField("categories.\(name)", "is named twice") }
      guard case .array(let xs) = value else { throw .invalidField("categories.\(name)", "must be a list of strings") }
      keywords[name] = try xs.map { x throws(AudienceError) in
        guard case .string(let s) = x else { throw .invalidField("categories.\(name)", "must be a list of strings") }
        return s
      }
    }
    var order = cats.map(\.0)
    if let given = json["order"] {
      guard case .array(let xs) = given else { throw .invalidField("order", "must be a list of the categories' names") }
      order = try xs.map { x throws(AudienceError) in
        guard case .string(let s) = x else { throw .invalidField("order", "must be a list of the categories' names") }
        guard keywords[s] != nil else { throw .invalidField("order", "names \"\(s)\", which is not in categories") }
        return s
      }
      if let twice = order.enumerated().first(where: { order[..<$0.offset].contains($0.element) })?.element {
        throw .invalidField("order", "names \"\(twice)\" twice")
      }
      if let left = cats.map(\.0).first(where: { !order.contains($0) }) {
        throw .invalidField("order", "leaves out \"\(left)\" (list every category, in priority order)")
      }
    }
    var fallback = "Other"
    if let given = json["fallback"] {
      guard case .string(let f) = given, !f.trimmingWhitespace().isEmpty else {
        throw .invalidField("fallback", "must be a non-empty name")
      }
      guard keywords[f] == nil else { throw .invalidField("fallback", "\"\(f)\" is also a category's name") }
      fallback = f
    } else if keywords[fallback] != nil {
      throw .invalidField("fallback", "the default, \"Other\", is a category's name here: name the fallback")
    }
    self.init(order: order, keywords: keywords, fallback: fallback)
  }

  /// The category index of one folded interest, nil when it names none.
  func category(ofFolded interest: String) -> Int? { index[interest] }

  /// The category of a set of interests.
  /// - Parameters:
  ///   - interests: interests in any case.
  public func category(of interests: [String]) -> String {
    let best = interests.compactMap { index[Filter.fold($0)] }.min()
    return best.map { order[$0] } ?? fallback
  }

  public static func == (a: InterestCategories, b: InterestCategories) -> Bool {
    a.order == b.order && a.keywords == b.keywords && a.fallback == b.fallback
  }
  public func hash(into h: inout Hasher) {
    h.combine(order)
    h.combine(fallback)
  }
}
