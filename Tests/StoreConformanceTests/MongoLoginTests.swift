import AudienceCore
import AudienceMongo
import Foundation
import Logging
import Testing

/// MongoDB refusing audienced's credentials: the test server has no authentication, so a login
/// fails there as it does on a real server with a wrong password (libmongoc's authentication
/// error).
@Suite("MongoDB login refused")
struct MongoLoginTests {
  static func store() throws -> MongoStore {
    let uri = try MongoTestServer.uri().replacingOccurrences(of: "mongodb://", with: "mongodb://bob:wrong@")
    return try MongoStore(uri: uri, database: MongoTestServer.database(), threads: 1, logger: Logger(label: "login"))
  }

  /// A request is refused as FAILED_PRECONDITION, naming the credentials (it was INTERNAL,
  /// "MongoDB refused ...", as if the request were at fault).
  @Test func requestsAreRefusedNamingTheCredentials() async throws {
    let store = try Self.store()
    await #expect {
      _ = try await store.user(cookie: "c")
    } throws: { error in
      guard let e = error as? AudienceError else { return false }
      return e.code == .failedPrecondition && e.message.contains("refused audienced's login") && e.message.contains("--mongo-uri")
    }
    await store.close()
  }

  /// At start the store stops the server instead of logging "not reachable yet" and serving
  /// errors: wrong credentials do not mend themselves.
  @Test func theStoreStopsAtStart() async throws {
    let store = try Self.store()
    await #expect {
      try await store.run()
    } throws: { error in
      (error as? AudienceError)?.code == .failedPrecondition
    }
  }
}
