internal import AudienceCore
internal import CProtobufC
internal import CUnpackArena
internal import Glibc

/// Owns the C memory of protobuf-c messages being built for packing: every string and
/// sub-message comes from here and is freed together when the arena goes, after packing.
/// A bump allocator over zeroed chunks (4 KiB first, doubling to 1 MiB): a page of 10,000
/// users costs a few dozen allocations, not one per string.
final class Arena {
  private var blocks: [UnsafeMutableRawPointer] = []
  private var chunk: UnsafeMutableRawPointer?
  private var used = 0
  private var capacity = 0
  private var nextChunk = 4096

  deinit { for b in blocks { free(b) } }

  /// A NUL-terminated copy of `s` (empty for nil).
  func string(_ s: String?) -> UnsafeMutablePointer<CChar> {
    func copy(_ src: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<CChar> {
      let p = allocate(CChar.self, count: src.count + 1)
      if let base = src.baseAddress {
        UnsafeMutableRawPointer(p).copyMemory(from: base, byteCount: src.count)
      }
      p[src.count] = 0
      return p
    }
    return s?.withUTF8InPlace(copy) ?? copy(UnsafeBufferPointer(start: nil, count: 0))
  }

  /// An array of C strings.
  func strings(_ values: [String]) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? {
    guard !values.isEmpty else { return nil }
    let p = allocate(UnsafeMutablePointer<CChar>?.self, count: values.count)
    values.forEachInPlace { i, v in p[i] = string(v) }
    return p
  }

  /// Uninitialized memory for `count` values of `T`, zero-filled.
  func allocate<T>(_: T.Type, count: Int = 1) -> UnsafeMutablePointer<T> {
    let bytes = max(1, MemoryLayout<T>.stride * count)
    let align = max(MemoryLayout<T>.alignment, 8)
    var offset = (used + align - 1) & ~(align - 1)
    if chunk == nil || offset + bytes > capacity {
      let size = max(bytes, nextChunk)
      nextChunk = min(nextChunk * 2, 1 << 20)
      guard let raw = calloc(1, size) else { fatalError("out of memory allocating \(size) bytes") }
      blocks.append(raw)
      chunk = raw
      capacity = size
      offset = 0
    }
    used = offset + bytes
    return (chunk! + offset).bindMemory(to: T.self, capacity: count)
  }

  /// An array of pointers to messages built by `make`.
  func messages<T, E>(_ values: [E], _ make: (E) -> UnsafeMutablePointer<T>) -> UnsafeMutablePointer<UnsafeMutablePointer<T>?>? {
    guard !values.isEmpty else { return nil }
    let p = allocate(UnsafeMutablePointer<T>?.self, count: values.count)
    values.forEachInPlace { i, v in p[i] = make(v) }
    return p
  }
}

/// Where protobuf-c unpacks a received message: a bump allocator (`CUnpackArena`) freed with
/// everything in it when `body` returns, instead of a malloc and a free per string and
/// sub-message.
enum UnpackArena {
  /// Calls `body` with the allocator to pass to `*__unpack`; nothing unpacked with it may
  /// outlive the call, and `*__free_unpacked` must not be called on it.
  static func with<T, E: Error>(_ body: (UnsafeMutablePointer<ProtobufCAllocator>) throws(E) -> T) throws(E) -> T {
    guard let arena = audience_unpack_arena_new() else { fatalError("out of memory allocating an unpack arena") }
    defer { audience_unpack_arena_free(arena) }
    return try body(arena.pointer(to: \.allocator)!)
  }
}

extension UnpackArena {
  /// Arenas allocated in this process (in use, or kept as some thread's spare): tests read it
  /// to check that a thread's spare is freed when the thread ends.
  static var liveArenas: Int { audience_unpack_arena_live_arenas() }
  /// Their blocks.
  static var liveBlocks: Int { audience_unpack_arena_live_blocks() }
}
