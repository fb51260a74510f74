import AudienceCore
import Dispatch
import Synchronization
internal import Glibc

/// The identity graph saved at a clean shutdown (`audience.snapshot` in the data directory), so
/// the next start restores it instead of replaying every record.
///
/// Trusted only when it is exactly the graph of the database's records: the shutdown writes the
/// file (to a temporary name, fsync, rename, fsync of the directory), then records its random
/// token in the database's `meta` table. Start-up reads and deletes that token before anything
/// else, and restores the file only when its token matches; the file itself is deleted once
/// read, so it never outlives a change (and never keeps a forgotten person's data). A crash, a
/// failed write since the start, other record limits or a damaged file: the records are replayed.
enum GraphSnapshotFile {
  static let name = "audience.snapshot"
  static let tokenKey = "snapshot_token"

  static func path(_ directory: String) -> String { directory + "/" + name }

  /// A new random token.
  static func newToken() -> [UInt8] {
    var g = SystemRandomNumberGenerator()
    return (0..<16).map { _ in UInt8.random(in: 0...255, using: &g) }
  }

  static func hex(_ bytes: [UInt8]) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
  }

  /// The graph's snapshot, its sections encoded on all cores at once: the header, then the
  /// sections, to be written in this order.
  static func encode(_ graph: IdentityGraph, token: [UInt8]) -> [[UInt8]] {
    let order: [GraphSnapshot.Section] = [.profiles, .moreProfiles, .records, .moreRecords, .cookies, .index, .emails, .contentIDs]
    let encoded = Mutex([[UInt8]](repeating: [], count: GraphSnapshot.Section.allCases.count))
    DispatchQueue.concurrentPerform(iterations: order.count) { i in
      let bytes = graph.snapshotSection(order[i])
      encoded.withLock { $0[order[i].rawValue] = bytes }
    }
    let sections = encoded.withLock { $0 }
    return [graph.snapshotHeader(token: token, sections: sections)] + sections
  }

  /// Writes the snapshot (`parts` one after the other) durably under its final name.
  static func write(_ parts: [[UInt8]], directory: String) throws(AudienceError) {
    let final = path(directory), temporary = final + ".tmp"
    func failed(_ what: String) -> AudienceError {
      AudienceError(.unavailable, "cannot \(what) \(temporary): \(String(cString: strerror(errno)))")
    }
    let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw failed("create") }
    var ok = true
    for part in parts where ok {
      ok = part.withUnsafeBytes { raw -> Bool in
        var written = 0
        while written < raw.count {
          let n = Glibc.write(fd, raw.baseAddress! + written, raw.count - written)
          if n < 0 && errno == EINTR { continue }
          guard n > 0 else { return false }
          written += n
        }
        return true
      }
    }
    guard ok, fsync(fd) == 0 else {
      let error = failed("write")
      close(fd)
      unlink(temporary)
      throw error
    }
    close(fd)
    guard rename(temporary, final) == 0 else {
      unlink(temporary)
      throw failed("rename")
    }
    let dir = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if dir >= 0 {
      fsync(dir)
      close(dir)
    }
  }

  /// The file's bytes, mapped read-only (no copy: the page cache serves them), or nil when
  /// there is no file or it cannot be mapped. Unmapped when the last reference goes.
  static func map(directory: String) -> MappedSnapshot? {
    let fd = open(path(directory), O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0, st.st_size > 0 else { return nil }
    let size = Int(st.st_size)
    guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else { return nil }
    madvise(base, size, MADV_SEQUENTIAL)
    return MappedSnapshot(bytes: UnsafeRawBufferPointer(start: base, count: size))
  }

  /// The graph of a snapshot, its sections decoded on all cores at once (largest first), but
  /// its raw records (`rawRecordsLoaded` is false), and `alongside` run at the same time (the
  /// store checks its tables meanwhile). The records are the loader's to decode, later.
  /// - Returns: the graph, what `alongside` returned, how long each section took to decode,
  ///   and the loader of the records section (it keeps the mapping).
  static func restore<T: Sendable>(
    _ mapped: MappedSnapshot, limits: RecordLimits, alongside: @Sendable () -> T
  ) throws(SnapshotError) -> (IdentityGraph, T, sections: [(GraphSnapshot.Section, Duration)], records: RecordsLoader) {
    let snapshot = try GraphSnapshot(mapped.bytes, limits: limits) { mapped.populate($0) }
    let order: [GraphSnapshot.Section] = [.profiles, .moreProfiles, .emails, .cookies, .index]
    let decoded = Mutex<[GraphSnapshot.Decoded]>([])
    let failure = Mutex<SnapshotError?>(nil)
    let took = Mutex([Duration](repeating: .zero, count: order.count))
    let other = Mutex<T?>(nil)
    // The profiles' two halves are decoded straight into the graph's arrays (no join after).
    let slots = snapshot.profileSlots
    var profiles: SlotArray<Profile?> = []
    let revisions = SlotArray<UInt64>(unsafeUninitializedCapacity: slots) { revisionSlots, revisionCount in
      profiles = SlotArray<Profile?>(unsafeUninitializedCapacity: slots) { profileSlots, profileCount in
        let halves = (profiles: Shared(profileSlots), revisions: Shared(revisionSlots))
        DispatchQueue.concurrentPerform(iterations: order.count + 1) { i in
          // `alongside` first, the sections (largest first) after it.
          guard i > 0 else {
            let value = alongside()
            other.withLock { $0 = value }
            return
          }
          let i = i - 1
          let started = ContinuousClock.now
          do throws(SnapshotError) {
            if order[i] == .profiles || order[i] == .moreProfiles {
              // Leaves its half initialized even when it throws.
              try snapshot.decodeProfiles(order[i], into: halves.profiles.buffer, revisions: halves.revisions.buffer)
            } else {
              let section = try snapshot.decode(order[i])
              decoded.withLock { $0.append(section) }
            }
          } catch {
            failure.withLock { $0 = $0 ?? error }
          }
          // Decoded: its pages of the mapped file are not needed any more (they would count in
          // the server's memory until the whole snapshot is unmapped).
          snapshot.release(snapshot.range(of: order[i]))
          took.withLock { $0[i] = ContinuousClock.now - started }
        }
        profileCount = slots
      }
      revisionCount = slots
    }
    if let failure = failure.withLock({ $0 }) { throw failure }
    // Moved out of the mutex, never copied: each decoded section stays referenced once.
    let sections = decoded.withLock { all in
      let taken = all
      all = []
      return taken
    }
    let graph = try IdentityGraph(snapshot, profiles: profiles, revisions: revisions, sections: consume sections)
    return (graph, other.withLock { $0! }, Array(zip(order, took.withLock { $0 })), RecordsLoader(mapped: mapped, snapshot: snapshot))
  }

  /// Uninitialized memory that several threads fill at once, each its own slots
  /// (`GraphSnapshot.decodeProfiles`, `decodeRecords`): `@unchecked Sendable` for that reason.
  fileprivate struct Shared<Element>: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<Element>
    init(_ buffer: UnsafeMutableBufferPointer<Element>) { self.buffer = buffer }
  }

  /// Decodes a snapshot's records section, which start-up leaves for after the server is up.
  struct RecordsLoader: Sendable {
    let mapped: MappedSnapshot
    let snapshot: GraphSnapshot

    /// Both halves of the records (straight into one array) and the content ids, decoded on
    /// all cores at once.
    func decode() throws(SnapshotError) -> IdentityGraph.RawRecords {
      let sections: [GraphSnapshot.Section] = [.records, .moreRecords, .contentIDs]
      let failure = Mutex<SnapshotError?>(nil)
      let ids = Mutex<GraphSnapshot.Decoded?>(nil)
      let records = SlotArray<Record?>(unsafeUninitializedCapacity: snapshot.recordSlots) { buffer, count in
        let slots = Shared(buffer)
        DispatchQueue.concurrentPerform(iterations: sections.count) { i in
          do throws(SnapshotError) {
            if sections[i] == .contentIDs {
              let decoded = try snapshot.decode(.contentIDs)
              ids.withLock { $0 = decoded }
            } else {
              // Leaves its half initialized even when it throws.
              try snapshot.decodeRecords(sections[i], into: slots.buffer)
            }
          } catch {
            failure.withLock { $0 = $0 ?? error }
          }
          snapshot.release(snapshot.range(of: sections[i]))
        }
        count = snapshot.recordSlots
      }
      if let failure = failure.withLock({ $0 }) { throw failure }
      guard let section = ids.withLock({ $0 }) else { throw .damaged("the content ids are missing") }
      var raw = try IdentityGraph.RawRecords(records: records, contentIDs: section)
      raw.linkRecords()
      return raw
    }
  }

  /// Deletes the snapshot: unlinked at once, its bytes overwritten with zeros in the background
  /// (it holds every person's data, and someone erased later with `audience forget` must not
  /// linger in freed disk blocks, as the database's `secure_delete` sees to for its own pages);
  /// and a temporary one a crash left behind.
  static func discard(directory: String, after reading: DispatchGroup? = nil) {
    unlink(path(directory) + ".tmp")
    let fd = open(path(directory), O_WRONLY | O_CLOEXEC)
    unlink(path(directory))
    guard fd >= 0 else { return }
    let zero: @Sendable () -> Void = {
      var st = stat()
      if fstat(fd, &st) == 0 {
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        var left = Int(st.st_size)
        while left > 0 {
          let n = zeros.withUnsafeBytes { Glibc.write(fd, $0.baseAddress!, min(left, $0.count)) }
          if n < 0 && errno == EINTR { continue }
          guard n > 0 else { break }
          left -= n
        }
        fsync(fd)
      }
      close(fd)
    }
    // Not while the file is still being read (its mapping would read zeros).
    if let reading {
      reading.notify(queue: .global(qos: .utility), execute: zero)
    } else {
      DispatchQueue.global(qos: .utility).async(execute: zero)
    }
  }
}

/// A snapshot file mapped read-only; unmapped on deinit.
final class MappedSnapshot: @unchecked Sendable {
  /// Read only, valid until deinit.
  let bytes: UnsafeRawBufferPointer

  init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

  deinit { munmap(UnsafeMutableRawPointer(mutating: bytes.baseAddress), bytes.count) }

  /// Reads `range` of the file in now (`MADV_POPULATE_READ`), or says it cannot be read. Touched
  /// while being decoded, a page the disk cannot give back (or one past a file cut short since
  /// it was mapped) would raise SIGBUS, which ends the server; read in here, it is an error the
  /// caller recovers from (a replay of the records instead). A kernel without the call (before
  /// Linux 5.14) is read as before.
  ///
  /// This narrows the window, it does not close it: a page read in can still be dropped under
  /// memory pressure before it is decoded and read again then (or the file cut short in
  /// between), and that read is unguarded. Kernels 5.14-6.8 without the fix "mm/madvise: make
  /// MADV_POPULATE_(READ|WRITE) handle VM_FAULT_RETRY properly" may retry a failing read here
  /// instead of returning (a hang at start-up rather than a crash).
  func populate(_ range: Range<Int>) -> Bool {
    guard let base = bytes.baseAddress, range.lowerBound < range.upperBound else { return true }
    let page = Int(sysconf(Int32(_SC_PAGESIZE)))
    let start = range.lowerBound / page * page
    let end = Swift.min(range.upperBound, bytes.count)
    if madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, 22 /* MADV_POPULATE_READ */) == 0 { return true }
    return errno == EINVAL
  }

  /// `populate`, throwing what cannot be read as damage.
  func read(_ range: Range<Int>, _ what: @autoclosure () -> String) throws(SnapshotError) {
    guard populate(range) else { throw .damaged("\(what()) could not be read from the file (\(String(cString: strerror(errno))))") }
  }
}

extension GraphSnapshot {
  /// Drops the mapped pages wholly inside `range` of the snapshot's bytes (read again from the
  /// file if touched).
  fileprivate func release(_ range: Range<Int>) {
    guard let base = bytes.baseAddress else { return }
    let page = Int(sysconf(Int32(_SC_PAGESIZE)))
    let start = (range.lowerBound + page - 1) / page * page
    let end = range.upperBound / page * page
    guard end > start else { return }
    madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, MADV_DONTNEED)
  }
}
