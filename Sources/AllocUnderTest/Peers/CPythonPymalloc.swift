// CPythonPymalloc.swift — CPython 3.11's real pymalloc (Objects/obmalloc.c in libpython3.11.so.1.0), driven
// without Py_Initialize: PyObject_Malloc/Calloc/Realloc/Free then serve only our calls, so its arenas hold
// only the program's blocks. Its state is the library's static state, so there is one instance per process
// (``CPythonPymalloc/shared()``), and one user at a time (``CPythonPymalloc/holder``).
//
// What makes it observable:
// - arenas: `PyObject_SetArenaAllocator` routes every arena map and unmap through ``pages`` (a ``PageSource``
//   of ours, with its fault plan), so arena bases and counts are known exactly;
// - RAW: `PyMem_SetAllocator(PYMEM_DOMAIN_RAW)` puts glibc behind ``rawFaults`` (CPython's own defaults turn
//   size 0 into 1; ours do the same), so raw fallbacks and radix-tree nodes can be made to fail;
// - blocks: the pool headers have the reference's layout (``PoolRef``), so usable size, pool placement and
//   allocated-or-free are read from the real memory; statistics come from `_PyObject_DebugMallocStats`.
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

public final class CPythonPymalloc: @unchecked Sendable {
  // @unchecked: every mutable field is touched only by the holder of ``claim(_:)`` (one adapter at a time, ``holder``),
  // from the thread that runs it; the arena callbacks run inside that holder's calls.
  typealias Malloc = @convention(c) (UInt) -> UnsafeMutableRawPointer?
  typealias Calloc = @convention(c) (UInt, UInt) -> UnsafeMutableRawPointer?
  typealias Realloc = @convention(c) (UnsafeMutableRawPointer?, UInt) -> UnsafeMutableRawPointer?
  typealias Free = @convention(c) (UnsafeMutableRawPointer?) -> Void
  typealias Stats = @convention(c) (UnsafeMutableRawPointer?) -> Int32
  typealias SetArenaAllocator = @convention(c) (UnsafeMutableRawPointer?) -> Void
  typealias SetAllocator = @convention(c) (Int32, UnsafeMutableRawPointer?) -> Void
  typealias GetAllocator = @convention(c) (Int32, UnsafeMutableRawPointer?) -> Void

  public let library: PeerLibrary
  let objMalloc: Malloc
  let objCalloc: Calloc
  let objRealloc: Realloc
  let objFree: Free
  let debugMallocStats: Stats
  let setAllocator: SetAllocator
  let getAllocator: GetAllocator
  /// The three domains' tables as libpython had them when first loaded (PyMemAllocatorEx, 40 bytes each):
  /// RAW, MEM, OBJ. Other peers over the same library (the debug hooks) restore them before they start.
  public let pristineTables: [[UInt8]]

  /// Where new arenas come from; an arena goes back to the source that made it.
  public var pages: PageSource
  /// Faults for RAW-domain calls (pymalloc's fallbacks and its radix-tree nodes).
  public let rawFaults = FaultInjector(.never)
  /// Live arenas: base → the source that mapped it. Sorted bases for ``arenaBase(containing:)``.
  private var arenaSources: [UInt: PageSource] = [:]
  private var sortedBases: [UInt] = []
  /// Arenas mapped so far, in order (the k-th base); only for diagnostics.
  public private(set) var arenasMapped = 0

  private static let instance = Mutex<Result<CPythonPymalloc, PeerUnavailable>?>(nil)

  /// The process's one instance; loads libpython3.11 and installs the arena and RAW hooks on first use.
  public static func shared() throws(PeerUnavailable) -> CPythonPymalloc {
    let r: Result<CPythonPymalloc, PeerUnavailable> = instance.withLock { cached in
      if let cached { return cached }
      let made: Result<CPythonPymalloc, PeerUnavailable>
      do throws(PeerUnavailable) { made = .success(try CPythonPymalloc(library: try PeerLibrary.open(.cpython))) } catch { made = .failure(error) }
      cached = made
      return made
    }
    return try r.get()
  }

  private init(library: PeerLibrary) throws(PeerUnavailable) {
    self.library = library
    objMalloc = try library.function("PyObject_Malloc", as: Malloc.self)
    objCalloc = try library.function("PyObject_Calloc", as: Calloc.self)
    objRealloc = try library.function("PyObject_Realloc", as: Realloc.self)
    objFree = try library.function("PyObject_Free", as: Free.self)
    debugMallocStats = try library.function("_PyObject_DebugMallocStats", as: Stats.self)
    setAllocator = try library.function("PyMem_SetAllocator", as: SetAllocator.self)
    let get = try library.function("PyMem_GetAllocator", as: GetAllocator.self)
    getAllocator = get
    let setArena = try library.function("PyObject_SetArenaAllocator", as: SetArenaAllocator.self)
    var tables: [[UInt8]] = []
    for domain: Int32 in 0...2 {
      var t = [UInt8](repeating: 0, count: 40)
      unsafe t.withUnsafeMutableBytes { unsafe get(domain, $0.baseAddress) }
      tables.append(t)
    }
    pristineTables = tables
    pages = MmapPageSource()
    let ctx = unsafe Unmanaged.passUnretained(self).toOpaque()
    // PyObjectArenaAllocator {void *ctx; void *(*alloc)(void *, size_t); void (*free)(void *, void *, size_t)}.
    let arena = UnsafeMutableRawPointer.allocate(byteCount: 24, alignment: 8)  // lives as long as the process
    unsafe arena.storeBytes(of: ctx, as: UnsafeMutableRawPointer.self)
    unsafe arena.storeBytes(of: cpythonArenaAlloc, toByteOffset: 8, as: ArenaAlloc.self)
    unsafe arena.storeBytes(of: cpythonArenaFree, toByteOffset: 16, as: ArenaFree.self)
    unsafe setArena(arena)
    // PyMemAllocatorEx {ctx; malloc(ctx, n); calloc(ctx, k, n); realloc(ctx, p, n); free(ctx, p)}.
    let raw = UnsafeMutableRawPointer.allocate(byteCount: 40, alignment: 8)
    unsafe raw.storeBytes(of: ctx, as: UnsafeMutableRawPointer.self)
    unsafe raw.storeBytes(of: cpythonRawMalloc, toByteOffset: 8, as: RawMalloc.self)
    unsafe raw.storeBytes(of: cpythonRawCalloc, toByteOffset: 16, as: RawCalloc.self)
    unsafe raw.storeBytes(of: cpythonRawRealloc, toByteOffset: 24, as: RawRealloc.self)
    unsafe raw.storeBytes(of: cpythonRawFree, toByteOffset: 32, as: RawFree.self)
    rawTable = [UInt8](unsafe UnsafeRawBufferPointer(start: raw, count: 40))
    unsafe raw.deallocate()
    installTables()
  }

  /// Our RAW table (glibc behind ``rawFaults``), as bytes.
  private var rawTable: [UInt8] = []

  /// RAW = ours, MEM and OBJ = libpython's pristine pymalloc tables (undoing what another peer set).
  public func installTables() {
    setTable(0, rawTable)
    for domain in 1...2 { setTable(Int32(domain), pristineTables[domain]) }
  }

  /// `PyMem_GetAllocator(domain)`: the installed PyMemAllocatorEx, 40 bytes.
  public func table(_ domain: Int32) -> [UInt8] {
    var t = [UInt8](repeating: 0, count: 40)
    unsafe t.withUnsafeMutableBytes { unsafe getAllocator(domain, $0.baseAddress) }
    return t
  }

  /// `PyMem_SetAllocator(domain, table)` from the 40 bytes of a PyMemAllocatorEx (CPython copies them).
  public func setTable(_ domain: Int32, _ table: [UInt8]) {
    precondition(table.count == 40, "a PyMemAllocatorEx is 40 bytes")
    unsafe table.withUnsafeBytes { unsafe setAllocator(domain, UnsafeMutableRawPointer(mutating: $0.baseAddress)) }
  }

  // MARK: One user at a time

  /// The library's one user (an adapter's name): two at once would see each other's blocks in the statistics.
  public let holder = PeerClaim()

  // MARK: The OBJ domain (PyObject_*)

  public func malloc(_ n: UInt64) -> Int? { Self.address(unsafe objMalloc(UInt(n))) }
  public func calloc(_ count: UInt64, _ size: UInt64) -> Int? { Self.address(unsafe objCalloc(UInt(count), UInt(size))) }
  public func realloc(_ address: Int?, _ n: UInt64) -> Int? {
    Self.address(unsafe objRealloc(address.flatMap { UnsafeMutableRawPointer(bitPattern: $0) }, UInt(n)))
  }
  public func free(_ address: Int?) { unsafe objFree(address.flatMap { UnsafeMutableRawPointer(bitPattern: $0) }) }

  private static func address(_ p: UnsafeMutableRawPointer?) -> Int? { p.map { Int(bitPattern: $0) } }

  // MARK: Arenas and pools, read from the real memory

  /// Live arenas' bases, ascending.
  public var arenaBases: [Int] { sortedBases.map { Int($0) } }
  public var liveArenas: Int { sortedBases.count }

  /// The base of the live arena that contains `address`, if any (address_in_range, from our own records).
  public func arenaBase(containing address: Int) -> Int? {
    let a = UInt(bitPattern: address)
    var lo = 0, hi = sortedBases.count
    while lo < hi {
      let mid = (lo + hi) / 2
      if sortedBases[mid] <= a { lo = mid + 1 } else { hi = mid }
    }
    guard lo > 0, a < sortedBases[lo - 1] + UInt(PymallocLayout.arenaSize) else { return nil }
    return Int(sortedBases[lo - 1])
  }

  public func owns(_ address: Int) -> Bool { arenaBase(containing: address) != nil }

  /// Block size of a pool block (from its pool header's szidx), else glibc's usable size.
  public func usableSize(_ address: Int) -> Int {
    guard let p = UnsafeMutableRawPointer(bitPattern: address) else { return 0 }
    if owns(address) { return unsafe PoolRef(containing: p).blockSize }
    return unsafe glibcMallocUsableSize(p)
  }

  /// The pool slots of the arena at `base`: first pool-aligned address, and how many pools fit (64 or 63).
  public static func poolSlots(arenaBase base: Int) -> (first: Int, count: Int) {
    let first = (base + PymallocLayout.poolSizeMask) & ~PymallocLayout.poolSizeMask
    return (first, first == base ? PymallocLayout.maxPoolsInArena : PymallocLayout.maxPoolsInArena - 1)
  }

  /// One pool header, as far as a reader outside obmalloc.c can know it. A pool is carved iff its
  /// maxnextoffset is non-zero: the arena allocator hands out zeroed memory, and carving writes it.
  public struct PoolView: Sendable, Equatable {
    public var address: Int
    public var carved: Bool
    public var count: Int
    public var sizeClass: Int
    public var nextoffset: Int
  }

  public func pools(ofArena base: Int) -> [PoolView] {
    let (first, n) = Self.poolSlots(arenaBase: base)
    return (0..<n).map { k in
      let pool = unsafe PoolRef(UnsafeMutableRawPointer(bitPattern: first + k * PymallocLayout.poolSize)!)
      return PoolView(address: pool.address, carved: pool.maxnextoffset != 0, count: Int(pool.count),
                      sizeClass: Int(pool.szidx), nextoffset: pool.nextoffset)
    }
  }

  /// The descriptor index CPython recorded in the arena's first pool header (Int.max if none is carved).
  public func arenaIndex(ofArena base: Int) -> Int {
    let pool = unsafe PoolRef(UnsafeMutableRawPointer(bitPattern: Self.poolSlots(arenaBase: base).first)!)
    return pool.maxnextoffset != 0 ? pool.arenaIndex : Int.max
  }

  /// Allocated, free, or not a pool block (nil). A pool block is allocated iff its pool is carved and in
  /// use, it lies below nextoffset, and it is not on the pool's free list.
  public func isAllocated(_ address: Int) -> Bool? {
    guard let base = arenaBase(containing: address) else { return nil }
    let (first, n) = Self.poolSlots(arenaBase: base)
    guard address >= first, address < first + n * PymallocLayout.poolSize else { return false }
    let pool = unsafe PoolRef(UnsafeMutableRawPointer(bitPattern: address & ~PymallocLayout.poolSizeMask)!)
    guard pool.maxnextoffset != 0, pool.count > 0, Int(pool.szidx) < PymallocLayout.sizeClassCount else { return false }
    let off = address - pool.address
    guard off >= PymallocLayout.poolOverhead, off < pool.nextoffset, (off - PymallocLayout.poolOverhead) % pool.blockSize == 0
    else { return false }
    var b = unsafe pool.freeblock
    var steps = 0
    while let block = unsafe b, steps <= PymallocLayout.blocksPerPool(ofClass: 0) {
      if block.address == address { return false }
      let o = block.address - pool.address
      guard o >= PymallocLayout.poolOverhead && o < PymallocLayout.poolSize else { break }
      b = unsafe FreeLink.next(of: block)
      steps += 1
    }
    return true
  }

  /// Every pool block still allocated in the live arenas, in address order, read from the pool headers and
  /// free lists in memory (what ``isAllocated(_:)`` says of each slot below a pool's nextoffset).
  public func allocatedBlocks() -> [Int] {
    var found: [Int] = []
    for base in arenaBases {
      for pool in pools(ofArena: base) where pool.carved && pool.count > 0 && pool.sizeClass < PymallocLayout.sizeClassCount {
        let size = PymallocLayout.blockSize(ofClass: pool.sizeClass)
        var onFreeList = Set<Int>()
        let ref = unsafe PoolRef(UnsafeMutableRawPointer(bitPattern: pool.address)!)
        var b = unsafe ref.freeblock
        while let block = unsafe b, block.address - pool.address >= PymallocLayout.poolOverhead,
              block.address - pool.address < PymallocLayout.poolSize, onFreeList.insert(block.address).inserted {
          b = unsafe FreeLink.next(of: block)
        }
        for off in stride(from: PymallocLayout.poolOverhead, to: pool.nextoffset, by: size)
        where !onFreeList.contains(pool.address + off) { found.append(pool.address + off) }
      }
    }
    return found
  }

  /// Frees, through `PyObject_Free`, every pool block an earlier user of this process's libpython left
  /// allocated (a domains program's blocks outlive it: a misuse's child aborted before the free, or the
  /// program ended holding them), so the next user's statistics count only its own blocks. OBJ must be
  /// pymalloc's own table (``installTables()``); a debug-hook header inside a block is plain data to it.
  /// Returns how many it freed.
  @discardableResult
  public func freeLeftoverBlocks() -> Int {
    let left = allocatedBlocks()
    for a in left { free(a) }
    return left.count
  }

  /// Where a pool block sits: the arenaindex its pool header records, its pool's slot in the arena, and its
  /// offset in the pool. nil for a block outside every arena.
  public func placement(of address: Int) -> (arenaIndex: Int, pool: Int, offset: Int)? {
    guard let base = arenaBase(containing: address), let p = UnsafeMutableRawPointer(bitPattern: address) else { return nil }
    let pool = unsafe PoolRef(containing: p)
    let first = Self.poolSlots(arenaBase: base).first
    return (pool.arenaIndex, (pool.address - first) / PymallocLayout.poolSize, address - pool.address)
  }

  /// `_PyObject_DebugMallocStats` into memory (open_memstream): the pymalloc section, byte for byte.
  public func statsText() -> String {
    var buffer: UnsafeMutablePointer<CChar>? = nil
    var length = 0
    guard let f = unsafe open_memstream(&buffer, &length) else { return "" }
    _ = unsafe debugMallocStats(UnsafeMutableRawPointer(f))
    unsafe fclose(f)
    guard let b = unsafe buffer else { return "" }
    let text = unsafe String(cString: b)
    unsafe Glibc.free(b)
    return text
  }

  // MARK: Callbacks (called by libpython through the tables above)

  fileprivate func arenaAlloc(_ size: Int) -> UnsafeMutableRawPointer? {
    guard let p = unsafe pages.reserve(bytes: size, alignment: 4096) else { return nil }
    let base = UInt(bitPattern: p)
    arenaSources[base] = pages
    sortedBases.insert(base, at: sortedBases.firstIndex { $0 > base } ?? sortedBases.endIndex)
    arenasMapped += 1
    return unsafe p
  }

  fileprivate func arenaFree(_ p: UnsafeMutableRawPointer?, _ size: Int) {
    guard let p = unsafe p else { return }
    let base = UInt(bitPattern: p)
    let source = arenaSources.removeValue(forKey: base)
    require(source != nil, "CPython freed arena \(hexAddress(base)), which its arena allocator never gave it")
    sortedBases.removeAll { $0 == base }
    unsafe source!.release(p, bytes: size)
  }

  fileprivate func rawFault() -> Bool { rawFaults.nextFailure() != nil }
}

typealias ArenaAlloc = @convention(c) (UnsafeMutableRawPointer?, Int) -> UnsafeMutableRawPointer?
typealias ArenaFree = @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?, Int) -> Void
typealias RawMalloc = @convention(c) (UnsafeMutableRawPointer?, Int) -> UnsafeMutableRawPointer?
typealias RawCalloc = @convention(c) (UnsafeMutableRawPointer?, Int, Int) -> UnsafeMutableRawPointer?
typealias RawRealloc = @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?, Int) -> UnsafeMutableRawPointer?
typealias RawFree = @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Void

private func owner(_ ctx: UnsafeMutableRawPointer?) -> CPythonPymalloc {
  unsafe Unmanaged<CPythonPymalloc>.fromOpaque(ctx!).takeUnretainedValue()
}

private let cpythonArenaAlloc: ArenaAlloc = { ctx, size in unsafe owner(ctx).arenaAlloc(size) }
private let cpythonArenaFree: ArenaFree = { ctx, p, size in unsafe owner(ctx).arenaFree(p, size) }
// CPython's default RAW functions (Objects/obmalloc.c `_PyMem_RawMalloc` & co.) ask C for 1 byte when given 0,
// so malloc(0) never returns NULL and realloc(p, 0) never frees; ours keep that.
private let cpythonRawMalloc: RawMalloc = { ctx, n in
  unsafe owner(ctx).rawFault() ? nil : unsafe Glibc.malloc(n == 0 ? 1 : n)
}
private let cpythonRawCalloc: RawCalloc = { ctx, k, n in
  if unsafe owner(ctx).rawFault() { return nil }
  return unsafe k == 0 || n == 0 ? Glibc.calloc(1, 1) : Glibc.calloc(k, n)
}
private let cpythonRawRealloc: RawRealloc = { ctx, p, n in
  unsafe owner(ctx).rawFault() ? nil : unsafe Glibc.realloc(p, n == 0 ? 1 : n)
}
private let cpythonRawFree: RawFree = { _, p in unsafe Glibc.free(p) }
