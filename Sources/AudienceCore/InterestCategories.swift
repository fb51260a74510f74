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

  /// Reads the JSON form: `{"order": [...], "categories": {name: [keywords]}, "fallback": "Other"}`.
  /// - Parameters:
  ///   - json: the document.
  public init(json: JSONValue) throws(AudienceError) {
    guard case .object(let cats)? = json["categories"] else {
      throw .invalidField("categories", "must be an object of category name to keyword list")
    }
    var keywords: [String: [String]] = [:]
    for (name, value) in cats {
      guard case .array(let xs) = value else { throw .invalidField("categories.\(name)", "must be a list of strings") }
      keywords[name] = try xs.map { x throws(AudienceError) in
        guard case .string(let s) = x else { throw .invalidField("categories.\(name)", "must be a list of strings") }
        return s
      }
    }
    var order = cats.map(\.0)
    if case .array(let xs)? = json["order"] {
      order = try xs.map { x throws(AudienceError) in
        guard case .string(let s) = x, keywords[s] != nil else {
          throw .invalidField("order", "must list names of categories")
        }
        return s
      }
    }
    var fallback = "Other"
    if case .string(let f)? = json["fallback"] { fallback = f }
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
