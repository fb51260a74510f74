internal import CGather

/// A key of a `DenseTable`: equatable, with a hash it supplies itself (taken once and kept, or
/// cheap to take).
public protocol DenseTableKey: Equatable, Sendable {
  /// A well-mixed hash, seeded per process where clients choose the key.
  var tableHash: Int { get }
}

/// A hash table for the identity graph's million-entry maps: entries in dense arrays, in
/// insertion order (until a removal moves the last entry into the hole), and an open-addressing
/// index of 8-byte buckets over them.
///
/// A `Dictionary` of that size spends most of an insert growing: every entry, key and value,
/// is written again at a random place in a new table twice its size, a cache miss and often a
/// page fault each. Here a growth rehashes the kept hashes into a new bucket array a fraction of
/// that size, and the dense arrays are `SlotArray`s, which grow without copying.
public struct DenseTable<Key: DenseTableKey, Value: Sendable>: Sendable, Sequence {
  private var keys = SlotArray<Key>()
  /// Nil only for the moment a `_modify` accessor has it set to nil (a removal).
  private var values = SlotArray<Value?>()
  private var hashes = SlotArray<Int>()
  /// Empty: 0. Otherwise the hash's upper 32 bits, then the entry's position + 1 (`tombstone`
  /// where an entry was removed). The count is zero or a power of two, at most half full.
  private var buckets = ZeroedWords()
  private var tombstones = 0

  private static var tombstone: UInt64 { 0xFFFF_FFFF }
  private static var slotMask: UInt64 { 0xFFFF_FFFF }

  public init() {}

  public var count: Int { keys.count }

  /// Buckets in the index (zero or a power of two), for tests of its growth.
  var bucketCapacity: Int { buckets.count }

  /// Makes room for `n` entries in all, so they are added without a growth.
  public mutating func reserveCapacity(_ n: Int) {
    keys.reserveCapacity(n)
    values.reserveCapacity(n)
    hashes.reserveCapacity(n)
    if n * 2 > buckets.count { rebuild(buckets: Self.bucketCount(for: n)) }
  }

  public subscript(_ key: Key) -> Value? {
    get { self[key, hash: key.tableHash] }
    _modify { yield &self[key, hash: key.tableHash] }
  }

  /// The entry of `key`, whose `tableHash` the caller took before (to `prefetch` its bucket).
  public subscript(_ key: Key, hash hash: Int) -> Value? {
    get {
      assert(hash == key.tableHash, "DenseTable: the hash passed is not the key's")
      let (_, slot) = find(key, hash)
      return slot.map { values[$0]! }
    }
    _modify {
      assert(hash == key.tableHash, "DenseTable: the hash passed is not the key's")
      let (bucket, slot) = find(key, hash)
      // The follow-up runs in `defer`: code after a `yield` does not run when the caller's
      // access ends with an error.
      if let slot {
        defer { if values[slot] == nil { remove(slot: slot, bucket: bucket) } }
        yield &values[slot]  // in place: a value's arrays stay uniquely referenced
      } else {
        var value: Value? = nil
        // Moved into the table (a copy would retain, then release, each reference it holds).
        defer { if let value = value.take() { insert(key, hash, consume value, at: bucket) } }
        yield &value
      }
    }
  }

  // The hot paths below are plain functions: the subscript's `_modify` is a coroutine whose frame
  // does not fit the caller's fixed buffer, so each access through it mallocs and frees one (a
  // million times per million records, on the leader).

  /// Adds `value` under `key` unless the key is there: true when it was added.
  /// - Parameters:
  ///   - hash: `key.tableHash`, taken before.
  public mutating func insertIfAbsent(_ key: Key, hash: Int, _ value: consuming Value) -> Bool {
    assert(hash == key.tableHash, "DenseTable: the hash passed is not the key's")
    let (bucket, slot) = find(key, hash)
    guard slot == nil else { return false }
    insert(key, hash, value, at: bucket)
    return true
  }

  /// Changes the entry of `key` in place: `body`'s result, or nil (and `body` not called) when
  /// the key is not there.
  /// - Parameters:
  ///   - hash: `key.tableHash`, taken before.
  public mutating func update<R>(_ key: Key, hash: Int, _ body: (inout Value) -> R) -> R? {
    assert(hash == key.tableHash, "DenseTable: the hash passed is not the key's")
    guard let slot = find(key, hash).slot else { return nil }
    return body(&values[slot]!)
  }

  /// Asks the CPU to bring in the bucket a lookup of `hash` starts at, a few lookups ahead of
  /// it: in a table of a million entries that bucket is a cache miss, and the lookups between
  /// hide it.
  public func prefetch(hash: Int) {
    buckets.withUnsafeBufferPointer { b in
      guard !b.isEmpty, let base = b.baseAddress else { return }
      audience_prefetch(base + (hash & (b.count - 1)))
    }
  }

  /// Removes every entry for which `shouldRemove` is true, keeping the others' order.
  public mutating func removeAll(where shouldRemove: (Key, Value) -> Bool) {
    var kept = 0
    for i in 0..<keys.count where !shouldRemove(keys[i], values[i]!) {
      if kept != i {
        keys.swapAt(kept, i)
        values.swapAt(kept, i)
        hashes.swapAt(kept, i)
      }
      kept += 1
    }
    guard kept < keys.count else { return }
    keys.removeSubrange(kept...)
    values.removeSubrange(kept...)
    hashes.removeSubrange(kept...)
    rebuild(buckets: buckets.count)
  }

  /// The values, in the table's order.
  public var allValues: LazyMapSequence<SlotArray<Value?>, Value> { values.lazy.map { $0! } }

  public struct Iterator: IteratorProtocol {
    let table: DenseTable
    var position = 0

    public mutating func next() -> (key: Key, value: Value)? {
      guard position < table.keys.count else { return nil }
      defer { position += 1 }
      return (table.keys[position], table.values[position]!)
    }
  }

  public func makeIterator() -> Iterator { Iterator(table: self) }

  // MARK: - Buckets

  private static func bucketCount(for entries: Int) -> Int {
    var n = 16
    while n < entries * 2 { n *= 2 }
    return n
  }

  private static func tag(_ hash: Int) -> UInt64 { (UInt64(truncatingIfNeeded: hash) >> 32) << 32 }

  /// The key's entry and its bucket, or nil and the bucket a new entry for it would take.
  private func find(_ key: Key, _ hash: Int) -> (bucket: Int, slot: Int?) {
    guard !buckets.isEmpty else { return (0, nil) }
    let mask = buckets.count - 1
    let tag = Self.tag(hash)
    var i = hash & mask
    var free = -1
    while true {
      let b = buckets[i]
      let s = b & Self.slotMask
      if s == 0 { return (free >= 0 ? free : i, nil) }
      if s == Self.tombstone {
        if free < 0 { free = i }
      } else if b & ~Self.slotMask == tag, keys[Int(s) - 1] == key {
        return (i, Int(s) - 1)
      }
      i = (i + 1) & mask
    }
  }

  /// Adds an entry for a key not in the table, at `bucket`, the one the lookup that found the key
  /// missing returned (looked up again only when the buckets are rebuilt first).
  private mutating func insert(_ key: Key, _ hash: Int, _ value: consuming Value, at bucket: Int) {
    // A bucket holds the position + 1 in 32 bits, and 0xFFFF_FFFF marks a removed entry.
    precondition(keys.count < 0xFFFF_FFFE, "a DenseTable holds at most 2^32 - 2 entries")
    var bucket = bucket
    if (keys.count + tombstones + 1) * 2 > buckets.count {
      // Double when live entries fill more than a quarter (a growth leaves the table a quarter
      // full, and it grows again at half); otherwise only sweep the tombstones out. (It grew
      // fourfold before: twice the memory, every page of it faulted in and zeroed.)
      rebuild(buckets: (keys.count + 1) * 4 > buckets.count ? Swift.max(16, buckets.count * 2) : buckets.count)
      bucket = find(key, hash).bucket
    }
    if buckets[bucket] & Self.slotMask == Self.tombstone { tombstones -= 1 }
    buckets[bucket] = Self.tag(hash) | UInt64(keys.count + 1)
    keys.append(key)
    values.append(consume value)
    hashes.append(hash)
  }

  /// Removes an entry by moving the last one into its place.
  private mutating func remove(slot: Int, bucket: Int) {
    buckets[bucket] = (buckets[bucket] & ~Self.slotMask) | Self.tombstone
    tombstones += 1
    let last = keys.count - 1
    if slot != last {
      // Repoint the last entry's bucket at the hole, then move it there.
      let mask = buckets.count - 1
      var i = hashes[last] & mask
      while buckets[i] & Self.slotMask != UInt64(last + 1) { i = (i + 1) & mask }
      buckets[i] = (buckets[i] & ~Self.slotMask) | UInt64(slot + 1)
      keys.swapAt(slot, last)
      values.swapAt(slot, last)
      hashes.swapAt(slot, last)
    }
    keys.removeLast()
    values.removeLast()
    hashes.removeLast()
  }

  /// Refills `count` empty buckets from the kept hashes (no key is read).
  private mutating func rebuild(buckets count: Int) {
    // Each lookup reads a bucket at random: in a table of a million, a TLB miss each with 4 KiB
    // pages (perf put the leader's prefetches of them at a tenth of its samples); 2 MiB pages
    // cover the buckets with a few TLB entries (`ZeroedWords` asks for them).
    var fresh = ZeroedWords(zeroed: count)
    let mask = count - 1
    hashes.withUnsafeBufferPointer { hashes in
      fresh.withUnsafeMutableBufferPointer { fresh in
        for (slot, hash) in hashes.enumerated() {
          var i = hash & mask
          while fresh[i] != 0 { i = (i + 1) & mask }
          fresh[i] = Self.tag(hash) | UInt64(slot + 1)
        }
      }
    }
    buckets = fresh
    tombstones = 0
  }
}

extension ContentID: DenseTableKey {
  public var tableHash: Int {
    var hasher = Hasher()
    hasher.combine(low)
    hasher.combine(high)
    return hasher.finalize()
  }
}
