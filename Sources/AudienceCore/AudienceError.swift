/// An error of one request, with a code that maps onto the wire's status codes.
///
/// Modelled on grpc-swift's `RPCError`: an opaque `Code`, a human-readable
/// message that says what was wrong and where, and an optional cause.
public struct AudienceError: Error, Hashable, Sendable, CustomStringConvertible {
  /// What kind of failure this is.
  public struct Code: Hashable, Sendable, CustomStringConvertible {
    enum Wrapped: Hashable, Sendable {
      case invalidArgument, notFound, resourceExhausted, failedPrecondition, deadlineExceeded,
        unavailable, `internal`, cancelled, unimplemented
    }
    let wrapped: Wrapped

    public static let invalidArgument = Code(wrapped: .invalidArgument)
    public static let notFound = Code(wrapped: .notFound)
    public static let resourceExhausted = Code(wrapped: .resourceExhausted)
    public static let failedPrecondition = Code(wrapped: .failedPrecondition)
    public static let deadlineExceeded = Code(wrapped: .deadlineExceeded)
    public static let unavailable = Code(wrapped: .unavailable)
    public static let `internal` = Code(wrapped: .internal)
    public static let cancelled = Code(wrapped: .cancelled)
    public static let unimplemented = Code(wrapped: .unimplemented)

    public var description: String {
      switch wrapped {
      case .invalidArgument: "INVALID_ARGUMENT"
      case .notFound: "NOT_FOUND"
      case .resourceExhausted: "RESOURCE_EXHAUSTED"
      case .failedPrecondition: "FAILED_PRECONDITION"
      case .deadlineExceeded: "DEADLINE_EXCEEDED"
      case .unavailable: "UNAVAILABLE"
      case .internal: "INTERNAL"
      case .cancelled: "CANCELLED"
      case .unimplemented: "UNIMPLEMENTED"
      }
    }
  }

  public var code: Code
  public var message: String
  /// The field the error is about, as a dotted path (`data.demographics.age`), when there is one.
  public var field: String?

  /// - Parameters:
  ///   - code: the kind of failure.
  ///   - message: what was wrong and where.
  ///   - field: the dotted path of the offending field.
  public init(_ code: Code, _ message: String, field: String? = nil) {
    self.code = code
    self.message = message
    self.field = field
  }

  public var description: String { "\(code): \(message)" }

  /// An invalid field: the message names the field first.
  /// - Parameters:
  ///   - field: dotted path, e.g. `data.demographics.age`.
  ///   - problem: what is wrong with it.
  public static func invalidField(_ field: String, _ problem: String) -> AudienceError {
    AudienceError(.invalidArgument, "\(field): \(problem)", field: field)
  }

  /// The same error with a prefix saying where (e.g. "record 3").
  /// - Parameters:
  ///   - location: where the error happened.
  public func located(_ location: String) -> AudienceError {
    AudienceError(code, "\(location): \(message)", field: field)
  }
}
