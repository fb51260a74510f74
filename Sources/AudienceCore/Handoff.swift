/// A value passed to work that runs later (a task, a thread pool's job), taken out exactly once
/// by that work. A closure's captured value stays shared with the closure for as long as the
/// closure lives, so an array it hands on is never unique, and moving its elements out copies
/// them all first; taken from a handoff, the array is the taker's alone.
public final class Handoff<Value: Sendable>: @unchecked Sendable {
  // Written only by `init` (before the work can run) and by the one `take()`.
  private var value: Value?

  public init(_ value: consuming Value) { self.value = value }

  /// The value; call once, from the one piece of work it was made for.
  public func take() -> Value {
    guard let value = value.take() else { preconditionFailure("a handoff's value was taken twice") }
    return value
  }
}
