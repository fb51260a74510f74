import AudienceCore
import AudienceMongo
import AudienceStore
import Foundation
import Logging

/// The stores every conformance test runs against.
enum StoreKind: String, CaseIterable, Sendable, CustomStringConvertible {
  case embedded, mongodb
  var description: String { rawValue }
}

/// An open store and how to close it (and remove what it wrote).
struct StoreUnderTest {
  let store: any ProfileStore
  let close: @Sendable () async -> Void

  static let fixedClock: @Sendable () -> Timestamp = { Timestamp(year: 2025, month: 6, day: 1)! }

  static func open(_ kind: StoreKind, limits: RecordLimits = .default) throws -> StoreUnderTest {
    let logger = Logger(label: "conformance")
    switch kind {
    case .embedded:
      let dir = "/tmp/aud-conf-" + String(UUID().uuidString.prefix(8))
      let store = try EmbeddedStore(directory: dir, limits: limits, logger: logger, clock: fixedClock)
      return StoreUnderTest(store: store) {
        await store.close()
        try? FileManager.default.removeItem(atPath: dir)
      }
    case .mongodb:
      let store = try MongoStore(
        uri: try MongoTestServer.uri(), database: MongoTestServer.database(), limits: limits, threads: 2, logger: logger,
        clock: fixedClock)
      return StoreUnderTest(store: store) { await store.close() }
    }
  }
}

enum Records {
  static func record(
    _ cookie: String, _ email: String?, day: Int = 1, minute: Int = 0, age: Int? = nil, gender: String? = nil,
    country: String? = nil, income: String? = nil, interests: [String] = []
  ) -> Record {
    Record(
      cookie: cookie, email: email,
      createdAt: Timestamp(seconds: Timestamp(year: 2025, month: 3, day: day, hour: 12)!.seconds + Int64(minute) * 60),
      location: Location(country: country), demographics: Demographics(age: age, gender: gender, income: income),
      interests: interests)
  }

  /// Random records over small pools of cookies and emails, so that people merge.
  static func random(_ count: Int, seed: UInt64) -> [Record] {
    var rng = SplitMix64(seed: seed)
    let countries = ["USA", "Canada", "India", "Germany", "Brazil"]
    let genders = ["Male", "Female", "Other"]
    let interests = ["Gaming", "AI", "Crypto", "Tech", "Movies", "Football", "Stocks", "Cooking", "Travel"]
    let incomes = ["30000", "55000", "80,000", "$120000", "unknown-band", "high"]
    return (0..<count).map { _ in
      var r = record(
        "c\(Int.random(in: 0..<count / 2, using: &rng))",
        Bool.random(using: &rng) ? "e\(Int.random(in: 0..<count / 4, using: &rng))@x.com" : nil,
        day: Int.random(in: 1...28, using: &rng), minute: Int.random(in: 0..<3, using: &rng),
        age: Int.random(in: 0..<10, using: &rng) < 8 ? Int.random(in: 16...70, using: &rng) : nil,
        gender: Bool.random(using: &rng) ? genders.randomElement(using: &rng) : nil,
        country: Int.random(in: 0..<10, using: &rng) < 9 ? countries.randomElement(using: &rng) : nil,
        income: Bool.random(using: &rng) ? incomes.randomElement(using: &rng) : nil,
        interests: (0..<Int.random(in: 0...3, using: &rng)).map { _ in interests.randomElement(using: &rng)! })
      if Int.random(in: 0..<20, using: &rng) == 0 { r.createdAt = nil }
      return r
    }
  }
}
