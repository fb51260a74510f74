import Foundation
import Testing

/// `--exit-with-parent`: a server whose starter died stops by itself, gracefully.
@Suite("Exit with the parent")
struct ExitWithParentTests {
  /// Whether the process has ended (gone, or a zombie no one reaps yet).
  static func ended(_ pid: Int32) -> Bool {
    if kill(pid, 0) != 0 { return errno == ESRCH }
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
      let close = stat.lastIndex(of: ")")
    else { return true }
    return stat[stat.index(close, offsetBy: 2)] == "Z"
  }

  @Test func aServerWhoseParentEndsStopsGracefully() async throws {
    let dir = "/tmp/aud-" + String(UUID().uuidString.prefix(8))
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    // A shell starts the server, writes its pid, waits (10 s at most) until it listens, and ends.
    let shell = Process()
    shell.executableURL = URL(fileURLWithPath: "/bin/bash")
    shell.arguments = [
      "-c",
      // The shell closes the descriptors it inherited past 2 first: Foundation learns that a
      // child ended from one of them, and would wait for the server to end too.
      #"for fd in /proc/self/fd/*; do n=${fd##*/}; [ "$n" -gt 2 ] && eval "exec $n>&-"; done 2> /dev/null; "$0" --socket "$1/s.sock" --data-dir "$1/data" --exit-with-parent > /dev/null 2> "$1/log" & echo $! > "$1/pid"; for i in $(seq 200); do [ -S "$1/s.sock" ] && break; sleep 0.05; done"#,
      ServerProcess.binDirectory + "/audienced", dir,
    ]
    // The pid goes through a file: a pipe the server inherited would stay open while it runs.
    try shell.run()
    shell.waitUntilExit()
    let text = (try? String(contentsOfFile: dir + "/pid", encoding: .utf8)) ?? ""
    let pid = try #require(Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), "\(text)")
    var stopped = false
    for _ in 0..<100 where !stopped {
      try await Task.sleep(for: .milliseconds(100))
      stopped = Self.ended(pid)
    }
    if !stopped { kill(pid, SIGKILL) }
    #expect(stopped, "the server outlived its parent by 10 s")
    let log = (try? String(contentsOfFile: dir + "/log", encoding: .utf8)) ?? ""
    #expect(log.contains("the parent process ended"), "\(log)")
    #expect(log.contains("] stopped"), "the server did not stop gracefully: \(log)")
  }
}
