/// Bounds on what one record may hold. Checked before anything is stored.
public struct RecordLimits: Hashable, Sendable {
  /// Longest string field, in UTF-8 bytes.
  public var maxFieldBytes: Int
  /// Most interests in one record.
  public var maxInterestsPerRecord: Int
  /// Most interests a profile shows; the oldest are dropped first.
  public var maxInterestsPerProfile: Int
  /// Most identifiers (cookies plus emails) one profile may hold; a record that would link past
  /// it is stored, but its email is not linked (the outcome says so). Protects against one
  /// shared identifier merging thousands of people.
  public var maxIdentifiersPerProfile = 1000
  /// Placeholder values that are not identifiers (compared trimmed and lower-cased): a cookie
  /// equal to one is rejected, an email equal to one is dropped, so "null" never joins people.
  public var blockedIdentifiers: Set<String> = RecordLimits.defaultBlockedIdentifiers

  /// What `blockedIdentifiers` holds unless configured.
  public static let defaultBlockedIdentifiers: Set<String> = ["null", "undefined", "none", "nil", "nan", "n/a", "unknown"]

  /// - Parameters:
  ///   - maxFieldBytes: longest string field in bytes (default 1024).
  ///   - maxInterestsPerRecord: most interests per record (default 256).
  ///   - maxInterestsPerProfile: most interests a profile keeps (default 64).
  public init(maxFieldBytes: Int = 1024, maxInterestsPerRecord: Int = 256, maxInterestsPerProfile: Int = 64) {
    self.maxFieldBytes = maxFieldBytes
    self.maxInterestsPerRecord = maxInterestsPerRecord
    self.maxInterestsPerProfile = maxInterestsPerProfile
  }

  public static let `default` = RecordLimits()
}
