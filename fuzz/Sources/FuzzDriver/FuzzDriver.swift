@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
  _ argc: UnsafeMutablePointer<CInt>,
  _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
  _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

/// Hands control to libFuzzer's driver. SwiftPM links an executable's entry point as
/// `<target>_main` (not `main`), so each target defines that symbol and calls this.
/// - Parameters:
///   - argc: the process's argument count.
///   - argv: the process's arguments.
///   - test: the target's `LLVMFuzzerTestOneInput`.
public func runFuzzer(
  _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>,
  _ test: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt {
  var count = argc
  var arguments: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
  return withUnsafeMutablePointer(to: &arguments) { LLVMFuzzerRunDriver(&count, $0, test) }
}
