// swift-tools-version:6.0
// libFuzzer targets for the parsers that read untrusted bytes. Built and run by scripts/fuzz
// (swift build -c release -Xswiftc -sanitize=fuzzer ...); each target is a
// LLVMFuzzerTestOneInput, and libFuzzer supplies main.
import PackageDescription

let package = Package(
  name: "audience-fuzz",
  dependencies: [
    .package(name: "audience", path: ".."),
    .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
  ],
  targets: [
    .target(name: "FuzzDriver"),
    .executableTarget(
      name: "fuzz-where", dependencies: ["FuzzDriver", .product(name: "AudienceCore", package: "audience")]),
    .executableTarget(
      name: "fuzz-csv", dependencies: ["FuzzDriver", .product(name: "AudienceCore", package: "audience")]),
    .executableTarget(
      name: "fuzz-frames",
      dependencies: [
        "FuzzDriver", .product(name: "AudienceWire", package: "audience"), .product(name: "AudienceCore", package: "audience"),
        .product(name: "NIOCore", package: "swift-nio"),
      ]),
  ]
)
