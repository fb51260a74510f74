import AudienceClient
import AudienceCore
import AudienceWire
import Foundation
import Testing

/// No email or phone number reaches the server's log, even at debug level and on errors.
@Suite("Log privacy")
struct LogPrivacyTests {
  @Test func emailsAndPhonesNeverAppearInTheLog() async throws {
    let server = ServerProcess()  // logs at debug
    try await server.start()
    defer { server.removeFiles() }
    let client = try await server.client()
    let email = "secret.person@example.org", phone = "5550199123"
    _ = try await client.ingest([
      RawRecord(cookie: "k1", email: email, phoneNumber: phone, createdAt: "2025-03-10T10:00:00"),
      RawRecord(cookie: "k2", email: email.uppercased(), phoneNumber: phone, createdAt: "not a date", age: 500),
      RawRecord(cookie: "", email: "other." + email, phoneNumber: "+1 " + phone),
    ])
    _ = try? await client.user(cookie: email)
    _ = try? await client.queryCohort(CohortQuery(filter: .strings(.city, [email]), cookie: "k1"))
    let raw = try RawSocket(path: server.socketPath)
    try raw.hello()
    raw.send([0x00, 0x00, 0x00, 0x05, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])  // a frame that is not a request
    _ = try raw.readResponse()
    await client.close()
    #expect(await server.stop() == 0)
    let log = server.log_
    #expect(log.contains("listening"))
    #expect(!log.lowercased().contains("secret.person"), "\(log)")
    #expect(!log.contains(phone), "\(log)")
  }
}
