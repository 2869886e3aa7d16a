// LibMimalloc.swift — the real mimalloc (Debian's libmimalloc.so.2, 2.0.9) as a peer (issue 11): its heap
// API looked up with dlsym, addresses as Ints, heaps as ``LibMimalloc/Heap`` handles, and the library's
// *main thread*. mimalloc records as its main thread the OS thread that ran its constructor (v2.0.9
// src/init.c `mi_heap_main_init`, run from the load-time `_mi_process_init`), and only that thread's forced
// collect reclaims every abandoned segment (src/heap.c `mi_heap_collect_ex`). So ``LibMimalloc/shared()``
// starts one process-lifetime ``BatonThread`` and dlopens the library *from it*: t0 of every heaps program
// runs there, as CPython's main thread is mimalloc's. Entry points: ``LibMimalloc/shared()``,
// ``LibMimalloc/main``, the `mi_*` wrappers. No invariant walker: the library's structures are its own.
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

public final class LibMimalloc: @unchecked Sendable {
  // @unchecked: every field is written once in init; libmimalloc is thread-safe for the calls it allows
  // (heap calls on the heap's own thread, which callers arrange; free and the read-only queries anywhere).
  typealias HeapNew = @convention(c) () -> OpaquePointer?
  typealias HeapEnd = @convention(c) (OpaquePointer?) -> Void
  typealias HeapMalloc = @convention(c) (OpaquePointer?, UInt) -> UnsafeMutableRawPointer?
  typealias HeapCalloc = @convention(c) (OpaquePointer?, UInt, UInt) -> UnsafeMutableRawPointer?
  typealias HeapRealloc = @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, UInt) -> UnsafeMutableRawPointer?
  typealias HeapMallocAligned = @convention(c) (OpaquePointer?, UInt, UInt) -> UnsafeMutableRawPointer?
  /// `mi_block_visit_fun`: (heap, area, block or NULL for the area itself, block size, arg) → continue?
  typealias Visitor = @convention(c) (OpaquePointer?, UnsafeRawPointer?, UnsafeMutableRawPointer?, UInt, UnsafeMutableRawPointer?) -> Bool
  typealias HeapVisit = @convention(c) (OpaquePointer?, Bool, Visitor, UnsafeMutableRawPointer?) -> Bool
  typealias HeapQuery = @convention(c) (OpaquePointer?, UnsafeRawPointer?) -> Bool
  typealias HeapCollect = @convention(c) (OpaquePointer?, Bool) -> Void
  typealias Collect = @convention(c) (Bool) -> Void
  typealias PointerQuery = @convention(c) (UnsafeRawPointer?) -> Bool
  typealias UsableSize = @convention(c) (UnsafeRawPointer?) -> UInt
  typealias Free = @convention(c) (UnsafeMutableRawPointer?) -> Void
  typealias Malloc = @convention(c) (UInt) -> UnsafeMutableRawPointer?
  typealias GetHeap = @convention(c) () -> OpaquePointer?
  typealias Version = @convention(c) () -> Int32

  /// A `mi_heap_t*` as a plain value (its address); only this file turns it back into a pointer.
  public struct Heap: Hashable, Sendable, CustomStringConvertible {
    public let address: Int
    fileprivate var pointer: OpaquePointer? { OpaquePointer(bitPattern: address) }
    public var description: String { "mi_heap_t@0x" + String(UInt(bitPattern: address), radix: 16) }
  }

  public let library: PeerLibrary
  /// `mi_version()`: 209 for 2.0.9.
  public let version: Int
  /// The thread that loaded the library: mimalloc's main thread (unless ``mainIsLibraryMain`` is false).
  public let main: BatonThread
  /// False if libmimalloc was already loaded when ``shared()`` ran, so its constructor ran on some other
  /// thread and ``main`` is an ordinary thread to it (a forced collect there reclaims nothing).
  public let mainIsLibraryMain: Bool

  let cHeapNew: HeapNew
  let cHeapDelete: HeapEnd
  let cHeapDestroy: HeapEnd
  let cHeapMalloc: HeapMalloc
  let cHeapCalloc: HeapCalloc
  let cHeapRealloc: HeapRealloc
  let cHeapMallocAligned: HeapMallocAligned
  let cHeapVisit: HeapVisit
  let cHeapContains: HeapQuery
  let cHeapCheckOwned: HeapQuery
  let cHeapCollect: HeapCollect
  let cCollect: Collect
  let cInHeapRegion: PointerQuery
  let cUsableSize: UsableSize
  let cFree: Free
  let cMalloc: Malloc
  let cGetBacking: GetHeap
  let cGetDefault: GetHeap

  private static let instance = Mutex<Result<LibMimalloc, PeerUnavailable>?>(nil)

  /// The process's one instance: starts ``main`` and loads the library on it, on first use.
  public static func shared() throws(PeerUnavailable) -> LibMimalloc {
    let r: Result<LibMimalloc, PeerUnavailable> = instance.withLock { cached in
      if let cached { return cached }
      let main = BatonThread(name: "mimalloc-main")
      let made: Result<LibMimalloc, PeerUnavailable> = main.run {
        let file = PeerKind.mimalloc.libraryFile!
        var preloaded = false
        if let h = unsafe dlopen(file, RTLD_NOW | RTLD_NOLOAD) {
          preloaded = true
          unsafe dlclose(h)
        }
        do throws(PeerUnavailable) {
          return .success(try LibMimalloc(library: try PeerLibrary.open(.mimalloc), main: main, preloaded: preloaded))
        } catch { return .failure(error) }
      }
      if case .failure = made { main.finish() }
      cached = made
      return made
    }
    return try r.get()
  }

  private init(library: PeerLibrary, main: BatonThread, preloaded: Bool) throws(PeerUnavailable) {
    self.library = library
    self.main = main
    mainIsLibraryMain = !preloaded
    cHeapNew = try library.function("mi_heap_new", as: HeapNew.self)
    cHeapDelete = try library.function("mi_heap_delete", as: HeapEnd.self)
    cHeapDestroy = try library.function("mi_heap_destroy", as: HeapEnd.self)
    cHeapMalloc = try library.function("mi_heap_malloc", as: HeapMalloc.self)
    cHeapCalloc = try library.function("mi_heap_calloc", as: HeapCalloc.self)
    cHeapRealloc = try library.function("mi_heap_realloc", as: HeapRealloc.self)
    cHeapMallocAligned = try library.function("mi_heap_malloc_aligned", as: HeapMallocAligned.self)
    cHeapVisit = try library.function("mi_heap_visit_blocks", as: HeapVisit.self)
    cHeapContains = try library.function("mi_heap_contains_block", as: HeapQuery.self)
    cHeapCheckOwned = try library.function("mi_heap_check_owned", as: HeapQuery.self)
    cHeapCollect = try library.function("mi_heap_collect", as: HeapCollect.self)
    cCollect = try library.function("mi_collect", as: Collect.self)
    cInHeapRegion = try library.function("mi_is_in_heap_region", as: PointerQuery.self)
    cUsableSize = try library.function("mi_usable_size", as: UsableSize.self)
    cFree = try library.function("mi_free", as: Free.self)
    cMalloc = try library.function("mi_malloc", as: Malloc.self)
    cGetBacking = try library.function("mi_heap_get_backing", as: GetHeap.self)
    cGetDefault = try library.function("mi_heap_get_default", as: GetHeap.self)
    version = Int(try library.function("mi_version", as: Version.self)())
  }

  /// "2.0.9" for `mi_version()` 209.
  public var versionString: String { "\(version / 100).\(version / 10 % 10).\(version % 10)" }

  // MARK: One harness user of the main thread at a time

  /// Who uses ``main``'s heaps now (two adapters would see each other's blocks in t0's heaps).
  public let holder = PeerClaim()

  // MARK: Calls that must run on the heap's own thread

  /// `mi_heap_get_backing()` of the calling thread (initialises its thread state on first use).
  public func backingHeap() -> Heap { Heap(address: Int(bitPattern: unsafe cGetBacking())) }
  /// `mi_heap_get_default()` of the calling thread.
  public func defaultHeap() -> Heap { Heap(address: Int(bitPattern: unsafe cGetDefault())) }
  /// `mi_heap_new()`: a heap of the calling thread; nil if its struct could not be allocated.
  public func heapNew() -> Heap? { (unsafe cHeapNew()).map { Heap(address: Int(bitPattern: $0)) } }
  public func heapDelete(_ h: Heap) { unsafe cHeapDelete(h.pointer) }
  public func heapDestroy(_ h: Heap) { unsafe cHeapDestroy(h.pointer) }
  public func heapMalloc(_ h: Heap, _ n: UInt64) -> Int? { Self.address(unsafe cHeapMalloc(h.pointer, UInt(n))) }
  public func heapCalloc(_ h: Heap, _ count: UInt64, _ size: UInt64) -> Int? {
    Self.address(unsafe cHeapCalloc(h.pointer, UInt(count), UInt(size)))
  }
  public func heapRealloc(_ h: Heap, _ address: Int?, _ n: UInt64) -> Int? {
    Self.address(unsafe cHeapRealloc(h.pointer, address.flatMap { UnsafeMutableRawPointer(bitPattern: $0) }, UInt(n)))
  }
  public func heapMallocAligned(_ h: Heap, _ n: UInt64, alignment: UInt64) -> Int? {
    Self.address(unsafe cHeapMallocAligned(h.pointer, UInt(n), UInt(alignment)))
  }
  public func heapCollect(_ h: Heap, force: Bool) { unsafe cHeapCollect(h.pointer, force) }
  /// `mi_collect(force)`: the calling thread's default heap (on the main thread with force: every abandoned
  /// segment is reclaimed first).
  public func collect(force: Bool) { cCollect(force) }

  /// `mi_heap_visit_blocks(h, allBlocks, …)`: every page of the heap as an area (its `used` as 2.0.9 reports
  /// it: `page->used` before any collect, so uncollected remote frees still count), and with `allBlocks` each
  /// allocated block as (start, usable block size). With `allBlocks` the call collects each page's free
  /// lists first (v2.0.9 src/heap.c `mi_heap_area_visit_blocks`), so it mutates: owner thread only.
  public func visit(_ h: Heap, allBlocks: Bool) -> (areas: [HeapArea], blocks: [(start: Int, size: Int)]) {
    let sink = VisitSink()
    let arg = unsafe Unmanaged.passUnretained(sink).toOpaque()
    _ = unsafe cHeapVisit(h.pointer, allBlocks, { _, area, block, size, arg in
      let sink = unsafe Unmanaged<VisitSink>.fromOpaque(arg!).takeUnretainedValue()
      if let block = unsafe block {
        sink.blocks.append((Int(bitPattern: block), Int(size)))
      } else if let a = unsafe area {
        // mi_heap_area_t: blocks, reserved, committed, used, block_size, full_block_size (one word each).
        let word = { (k: Int) in Int(bitPattern: unsafe a.load(fromByteOffset: k * 8, as: UInt.self)) }
        sink.areas.append(HeapArea(blocks: word(0), reserved: word(1), committed: word(2), used: word(3), blockSize: word(4),
                               fullBlockSize: word(5)))
      }
      return true
    }, arg)
    return withExtendedLifetime(sink) { (sink.areas, sink.blocks) }
  }

  // MARK: Calls any thread may make (free; read-only queries of page metadata)

  /// `mi_malloc(n)`: the calling thread's default heap (its backing heap unless it set another).
  public func malloc(_ n: UInt64) -> Int? { Self.address(unsafe cMalloc(UInt(n))) }
  public func free(_ address: Int?) { unsafe cFree(address.flatMap { UnsafeMutableRawPointer(bitPattern: $0) }) }
  /// `mi_usable_size(p)`.
  public func usableSize(_ address: Int) -> Int { Int(unsafe cUsableSize(UnsafeRawPointer(bitPattern: address))) }
  /// `mi_heap_contains_block(h, p)`: the page holding `p` belongs to `h` now.
  public func heapContains(_ h: Heap, _ address: Int) -> Bool { unsafe cHeapContains(h.pointer, UnsafeRawPointer(bitPattern: address)) }
  /// `mi_heap_check_owned(h, p)`: `p` lies inside one of `h`'s pages (interior pointers count).
  public func heapCheckOwned(_ h: Heap, _ address: Int) -> Bool {
    unsafe cHeapCheckOwned(h.pointer, UnsafeRawPointer(bitPattern: address))
  }
  /// `mi_is_in_heap_region(p)`: `p` lies in a live mimalloc segment (v2.0.9: the segment map).
  public func isInHeapRegion(_ address: Int) -> Bool { unsafe cInHeapRegion(UnsafeRawPointer(bitPattern: address)) }

  private static func address(_ p: UnsafeMutableRawPointer?) -> Int? { p.map { Int(bitPattern: $0) } }
}

/// What one visit collected (the visitor's context object).
private final class VisitSink {
  var areas: [HeapArea] = []
  var blocks: [(start: Int, size: Int)] = []
}
