public import AudienceCore

/// Canonical status codes, numbered as gRPC's (`audience.v1.StatusCode`).
public struct StatusCode: Hashable, Sendable, CustomStringConvertible {
  public let rawValue: Int

  /// - Parameters:
  ///   - rawValue: the wire number.
  public init(rawValue: Int) { self.rawValue = rawValue }

  public static let ok = StatusCode(rawValue: 0)
  public static let cancelled = StatusCode(rawValue: 1)
  public static let unknown = StatusCode(rawValue: 2)
  public static let invalidArgument = StatusCode(rawValue: 3)
  public static let deadlineExceeded = StatusCode(rawValue: 4)
  public static let notFound = StatusCode(rawValue: 5)
  public static let permissionDenied = StatusCode(rawValue: 7)
  public static let resourceExhausted = StatusCode(rawValue: 8)
  public static let failedPrecondition = StatusCode(rawValue: 9)
  public static let unimplemented = StatusCode(rawValue: 12)
  public static let `internal` = StatusCode(rawValue: 13)
  public static let unavailable = StatusCode(rawValue: 14)

  static let names = [
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
    "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
    "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
  ]

  public var description: String {
    rawValue >= 0 && rawValue < Self.names.count ? Self.names[rawValue] : "STATUS_\(rawValue)"
  }

  /// The one place where core errors become wire status codes.
  /// - Parameters:
  ///   - code: a core error code.
  public init(_ code: AudienceError.Code) {
    switch code {
    case .invalidArgument: self = .invalidArgument
    case .notFound: self = .notFound
    case .resourceExhausted: self = .resourceExhausted
    case .failedPrecondition: self = .failedPrecondition
    case .deadlineExceeded: self = .deadlineExceeded
    case .unavailable: self = .unavailable
    case .cancelled: self = .cancelled
    case .unimplemented: self = .unimplemented
    default: self = .internal
    }
  }
}

/// A status on the wire: a code and a message saying what was wrong and where.
public struct WireStatus: Hashable, Sendable, Error, CustomStringConvertible {
  public var code: StatusCode
  public var message: String

  /// - Parameters:
  ///   - code: the status code.
  ///   - message: what was wrong and where.
  public init(_ code: StatusCode, _ message: String = "") {
    self.code = code
    self.message = message
  }

  /// - Parameters:
  ///   - error: a core error.
  public init(_ error: AudienceError) { self.init(StatusCode(error.code), error.message) }

  public static let ok = WireStatus(.ok)
  public var description: String { message.isEmpty ? "\(code)" : "\(code): \(message)" }
}
