// Pymalloc.swift — the pymalloc reference allocator's state (`struct _obmalloc_state` of CPython 3.12+)
// and its public entry points, which behave like the default build's `_PyObject_Malloc/Calloc/Realloc/
// Free` behind the public `PyObject_*` wrappers. Pool logic: Pymalloc+Alloc.swift and Pymalloc+Free.swift;
// realloc: Pymalloc+Realloc.swift; statistics: Pymalloc+Stats.swift; invariants: Pymalloc+Invariants.swift.
// Guarded by ``Pymalloc/checkInvariants()``.
//
// All state lives in the instance (no globals), so a fuzz input starts from a fresh or `reset()` one.
// Requests of 0 or > 512 bytes, and small ones when no arena can be had, go to the raw allocator (the
// RAW domain, `PyMem_RawMalloc`), which turns size 0 into 1.

public final class Pymalloc {
  /// Where arenas come from (`PyObjectArenaAllocator`).
  public let pages: PageSource
  /// The RAW domain this allocator falls back to (and where radix nodes come from).
  public let raw: RawAllocator
  /// Defects switched on by the quality suite.
  public var bugs: Set<PymallocBug> { didSet { bugBits = PymallocBug.bits(of: bugs) } }
  /// ``bugs`` as one word, so the hot paths test a bug with an AND instead of a set lookup (``has(_:)``).
  private var bugBits: UInt64

  // usedpools table.
  let usedPools = UsedPools()
  // Arena descriptors and their lists (ArenaTable.swift: C-array storage behind a `let` handle).
  let arenas = ArenaTable()
  var unusedArenaObjects: Int? = nil
  var usableArenas: Int? = nil
  /// nfp2lasta[k]: rightmost arena in usableArenas with k free pools; nil iff none (bpo-37029).
  let nfp2lasta = ArenaIndexTable(count: PymallocLayout.maxPoolsInArena + 1)
  // Counters (obmalloc "mgmt" state).
  var narenasCurrentlyAllocated = 0
  var ntimesArenaAllocated = 0
  var narenasHighwater = 0
  /// raw_allocated_blocks: blocks this allocator obtained from the raw allocator and has not freed.
  public internal(set) var rawAllocatedBlocks = 0
  let arenaMap = ArenaMap()

  public init(pages: PageSource = MmapPageSource(), raw: RawAllocator = SystemRawAllocator(),
              bugs: Set<PymallocBug> = []) {
    self.pages = pages
    self.raw = raw
    self.bugs = bugs
    bugBits = PymallocBug.bits(of: bugs)
  }

  deinit {
    releaseEverything(keepSpares: false)
    usedPools.deallocate()
    arenas.deallocate()
    nfp2lasta.deallocate()
  }

  /// Is `bug` switched on? One load and a branch when no bug is (every normal run).
  @inline(__always) func has(_ bug: PymallocBug) -> Bool { bugBits != 0 && bugBits & bug.bit != 0 }

  /// Returns to a freshly initialised state: every arena unmapped, no radix node in use, counters zero.
  /// `keepSpares`: clean radix nodes are kept for the next state (ArenaMap) instead of going back to the raw
  /// allocator — only when the next state's raw allocator can free them (a ``PyMemDomains`` reset, whose RAW
  /// table may change between states, frees them now, through the table that gave them out).
  /// Blocks still held by callers become invalid. Raw-allocator blocks are not touched.
  public func reset(keepSpares: Bool = true) {
    releaseEverything(keepSpares: keepSpares)
    usedPools.reset()
    arenas.removeAll()
    unusedArenaObjects = nil
    usableArenas = nil
    for i in nfp2lasta.indices { nfp2lasta[i] = nil }
    narenasCurrentlyAllocated = 0
    ntimesArenaAllocated = 0
    narenasHighwater = 0
    rawAllocatedBlocks = 0
  }

  /// Gives back every arena and every radix node. `keepSpares`: a reset, after which the radix tree's nodes
  /// are kept for the next state when unmarking the live arenas left them all zero (ArenaMap).
  private func releaseEverything(keepSpares: Bool) {
    for i in arenas.indices {
      if let a = arenas[i].address {
        if keepSpares { _ = arenaMap.mark(arenaBase: a, used: false, raw: raw) }
        Memcheck.destroyPool(UInt(bitPattern: a.address), size: PymallocLayout.arenaSize)
        pages.release(a, bytes: PymallocLayout.arenaSize)
        arenas[i].address = nil
      }
    }
    arenaMap.removeAll(raw: raw, keepSpares: keepSpares)
  }

  // MARK: Public entry points (PyObject_Malloc & co. on the OBJ domain of a release build)

  /// `PyObject_Malloc(n)`: nil only if n > PY_SSIZE_T_MAX or the memory cannot be had.
  public func malloc(_ n: UInt64) -> UnsafeMutableRawPointer? {
    guard n <= PymallocLayout.maxRequest else { return nil }
    return malloc(Int(n))
  }

  /// `PyObject_Calloc(nelem, elsize)`: nil on overflow of nelem·elsize beyond PY_SSIZE_T_MAX.
  public func calloc(_ nelem: UInt64, _ elsize: UInt64) -> UnsafeMutableRawPointer? {
    if elsize != 0 && nelem > PymallocLayout.maxRequest / elsize { return nil }
    let nbytes = Int(nelem * elsize)
    if let p = smallAlloc(nbytes) {
      if !has(.callocSkipsZeroing) { p.initializeMemory(as: UInt8.self, repeating: 0, count: nbytes) }
      return p
    }
    if has(.arenaFailureReturnsNull) && isSmallWithoutArena(nbytes) { return nil }  // seeded, as in malloc
    // Raw default: calloc(0, x) and calloc(x, 0) become calloc(1, 1).
    let p = (nelem == 0 || elsize == 0) ? raw.calloc(1, 1) : raw.calloc(Int(nelem), Int(elsize))
    if p != nil { rawAllocatedBlocks += 1 }
    return p
  }

  /// `PyObject_Realloc(p, n)`.
  public func realloc(_ p: UnsafeMutableRawPointer?, _ n: UInt64) -> UnsafeMutableRawPointer? {
    guard n <= PymallocLayout.maxRequest else { return nil }
    return realloc(p, Int(n))
  }

  /// `PyObject_Free(p)`: NULL is a no-op; a pointer outside every arena goes to the raw allocator.
  public func free(_ p: UnsafeMutableRawPointer?) {
    guard let p else { return }
    if owns(p.address) {
      smallFree(p)
    } else {
      raw.free(p)
      rawAllocatedBlocks -= 1
    }
  }

  /// `address_in_range`: did this allocator's pools hand out `address`? Never dereferences it.
  public func owns(_ address: Int) -> Bool { arenaMap.contains(address) }

  /// The usable size of a block: its class size for a pool block, else what the raw allocator says.
  public func usableSize(_ p: UnsafeMutableRawPointer) -> Int {
    if owns(p.address) {
      let size = PoolRef(containing: p).blockSize
      return has(.misalignTinyBlocks) && p.address & 15 == 8 ? size - 8 : size
    }
    return raw.usableSize(p)
  }

  /// `_Py_GetAllocatedBlocks()`: raw fallback blocks plus Σ count over every carved pool.
  public var allocatedBlocks: Int {
    var n = rawAllocatedBlocks
    for a in arenas where a.address != nil { for k in 0..<a.carvedCount { n += Int(a.carvedPool(k).count) } }
    return n
  }

  /// `PyObject_Malloc` on an Int size.
  func malloc(_ n: Int) -> UnsafeMutableRawPointer? {
    if has(.mallocFailsAt256) && n == 256 { return nil }
    if let p = smallAlloc(n) { return p }
    if has(.arenaFailureReturnsNull) && isSmallWithoutArena(n) { return nil }  // seeded: no fallback to raw
    let p = raw.malloc(n == 0 ? 1 : n)
    if p != nil { rawAllocatedBlocks += 1 }
    return p
  }

  /// After smallAlloc declined `n`: was it a pool-sized request that got no arena? (The only other reason
  /// it declines one is the routeSmallToRaw bug.) For the seeded arenaFailureReturnsNull.
  private func isSmallWithoutArena(_ n: Int) -> Bool {
    n > 0 && n <= PymallocLayout.smallRequestThreshold && !has(.routeSmallToRaw)
  }
}
