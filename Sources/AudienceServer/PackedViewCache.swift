import AudienceCore
import AudienceWire
import CGather
import NIOCore
import Synchronization

/// Profiles' packed views (`PackedView`), each kept under the stamp of the view it packs, so
/// GetUser and QueryCohort copy bytes instead of building and encoding a view per request.
///
/// Direct-mapped by profile id (profile ids are dense): a slot holds one profile's latest packed
/// view; a changed profile has a new stamp, so its old view is never served. `capacity` slots at
/// most (0 keeps nothing); the table grows with the ids read. The views kept hold `maxBytes` at
/// most: a view that would pass it is not kept (its profile is packed per request), so profiles
/// with very large fields cannot make the cache hold gigabytes.
final class PackedViewCache: Sendable {
  private struct Slot {
    var stamp: ProfileStamp
    var view: PackedView
  }

  private struct Table {
    var slots: [Slot?] = []
    /// Bytes of the views in `slots`.
    var bytes = 0
  }

  let capacity: Int
  let maxBytes: Int
  private let table = Mutex(Table())

  /// - Parameters:
  ///   - capacity: most profiles kept (0: none).
  ///   - maxBytes: most bytes of views kept.
  init(capacity: Int, maxBytes: Int = .max) {
    self.capacity = max(0, capacity)
    self.maxBytes = max(0, maxBytes)
  }

  /// Bytes of the views kept.
  var bytes: Int { table.withLock { $0.bytes } }

  /// The packed views kept for these stamps, nil where there is none or it is of another state.
  func views(_ stamps: [ProfileStamp]) -> [PackedView?] {
    guard capacity > 0 else { return Array(repeating: nil, count: stamps.count) }
    return table.withLock { t in
      let table = t.slots
      return stamps.map { stamp in
        let i = stamp.id % capacity
        guard i < table.count, let slot = table[i], slot.stamp == stamp else { return nil }
        return slot.view
      }
    }
  }

  /// Writes the QueryCohort response of these profiles from their kept views, read in place
  /// under the lock (copying a view out would count a reference: a write to each view's memory,
  /// scattered over the heap). The slots are fetched some ahead of their reading, and the
  /// records ahead of their copy (`CGather`). Writes nothing and returns false unless every
  /// stamp's view is kept.
  /// - Parameters:
  ///   - id: the request's id.
  ///   - page: the page's profiles, total and cursor.
  ///   - buffer: where to write.
  func encodePage(id: UInt64, _ page: StampedPage, into buffer: inout ByteBuffer) -> Bool {
    guard capacity > 0 else { return false }
    let capacity = capacity
    let n = page.users.count
    var records = [UnsafePointer<UInt8>?](repeating: nil, count: n)
    var lengths = [UInt32](repeating: 0, count: n)
    // Room for a typical page before the lock is taken (records are ~130 bytes), so the buffer
    // seldom grows while other connections wait for the cache.
    buffer.reserveCapacity(buffer.writerIndex + 64 + 256 * n)
    return table.withLock { table in
      let found = table.slots.withUnsafeBufferPointer { t -> Bool in
        let ahead = 8
        func prefetch(_ k: Int) {
          if k < n, page.users[k].id % capacity < t.count { audience_prefetch(t.baseAddress! + page.users[k].id % capacity) }
        }
        for k in 0..<ahead { prefetch(k) }
        for k in 0..<n {
          prefetch(k + ahead)
          let stamp = page.users[k]
          let i = stamp.id % capacity
          guard i < t.count, t[i]?.stamp == stamp else { return false }
          records[k] = t[i]!.view.recordStart
          lengths[k] = UInt32(t[i]!.view.recordBytes)
        }
        return true
      }
      guard found else { return false }
      // The views stay in the table, so their bytes stay alive, until the lock is released.
      records.withUnsafeBufferPointer { r in
        lengths.withUnsafeBufferPointer { l in
          WireCodec.encodeCohortPage(
            id: id, total: page.total, records: r, lengths: l, nextCursor: page.nextCursor, into: &buffer)
        }
      }
      return true
    }
  }

  /// Writes the GetUser response from the view kept for this stamp, read in place under the lock
  /// (no reference counted); false, nothing written, when there is none or it is of another state.
  /// - Parameters:
  ///   - id: the request's id.
  ///   - cookie: the cookie asked for.
  ///   - stamp: the profile's stamp.
  ///   - buffer: where to write.
  func encodeGetUser(id: UInt64, cookie: String, stamp: ProfileStamp, into buffer: inout ByteBuffer) -> Bool {
    guard capacity > 0 else { return false }
    return table.withLock { table in
      let i = stamp.id % capacity
      guard i < table.slots.count, table.slots[i]?.stamp == stamp else { return false }
      table.slots[i]!.view.writeGetUser(id: id, cookie: cookie, into: &buffer)
      return true
    }
  }

  /// Drops a profile's packed view (a forgotten person's bytes are not kept).
  func evict(_ id: ProfileID) {
    guard capacity > 0 else { return }
    table.withLock { table in
      let i = id % capacity
      if i < table.slots.count, let slot = table.slots[i], slot.stamp.id == id {
        table.bytes -= slot.view.bytes
        table.slots[i] = nil
      }
    }
  }

  /// Keeps packed views, each replacing whatever its slot held, while they fit in `maxBytes`.
  func keep(_ views: [(stamp: ProfileStamp, view: PackedView)]) {
    guard capacity > 0, !views.isEmpty else { return }
    table.withLock { table in
      for (stamp, view) in views {
        let i = stamp.id % capacity
        if i >= table.slots.count {
          let grown = min(capacity, max(i + 1, table.slots.count * 2, 1024))
          table.slots.append(contentsOf: repeatElement(nil, count: grown - table.slots.count))
        }
        let replaced = table.slots[i]?.view.bytes ?? 0
        guard table.bytes - replaced + view.bytes <= maxBytes else { continue }
        table.bytes += view.bytes - replaced
        table.slots[i] = Slot(stamp: stamp, view: view)
      }
    }
  }
}
