// PyMemDomains.swift — CPython's three allocator domains as one instance (`_PyRuntime.allocators`, no
// globals): the installed table per domain, the three debug contexts, the backings, and the public entry
// points `PyMem_RawMalloc` … `PyObject_Free` (Objects/obmalloc.c). Configuration by `PYTHONMALLOC` name:
// ``PyMemDomains/setupAllocators(_:)`` (AllocatorName.swift has the table); hooks: ``setupDebugHooks()``;
// ``getAllocator(_:)``/``setAllocator(_:_:)``; ``currentAllocatorName()``. Addresses for the harness:
// PyMemDomains+Addresses.swift. Guarded by the Domain* tests (names × builds, DM1/DM2, DH5/DH6).
//
// Not thread-safe: an instance models one interpreter whose caller holds the GIL (the GIL itself is only a
// predicate, ``gilHeld``). Switch configurations before the first allocation: as in CPython, blocks made
// under one table must be freed by the same table.

/// Options fixed when an instance is made (compile-time switches in CPython).
public struct PyMemOptions: Sendable, Hashable {
  /// `PYMEM_DEBUG_SERIALNO`.
  public var serialNumbers: Bool
  /// Freed C-heap blocks kept readable before glibc gets them (see ``MallocBacking``); 0 = none.
  public var mallocQuarantine: Int

  public init(serialNumbers: Bool = false, mallocQuarantine: Int = 0) {
    self.serialNumbers = serialNumbers
    self.mallocQuarantine = mallocQuarantine
  }
}

/// The PyMem domains of one modelled interpreter.
public final class PyMemDomains {
  public let build: PyBuild
  /// The name last given to ``setupAllocators(_:)``.
  public private(set) var configuredName: PyMemAllocatorName = .default
  /// `_PyRuntime.allocators.is_debug_enabled` (3.13+): set by hook installation.
  public private(set) var debugEnabled = false
  public let bugs: Set<DomainBug>
  /// The C heap under RAW.
  public let system: RawAllocator
  /// `MALLOC_ALLOC`.
  public let mallocBacking: MallocBacking
  /// `PYMALLOC_ALLOC`; nil when the build has no usable pymalloc.
  public let pymallocBacking: PymallocBacking?
  /// Shared by the three debug contexts: serial numbers, GIL predicate, fatal handler.
  public let hookSettings: DebugHookSettings
  let mimallocProvider: MimallocBackingProvider?
  var mimallocBackings: [MimallocHeap: any BlockAllocator] = [:]
  let slots: [DomainSlot]
  /// `_PyRuntime.allocators.debug.{raw,mem,obj}`.
  let debugContexts: [DebugHooks]
  let rawForwarder: RawDomainForwarder
  /// Ranges vouched for by ``vouchReadable(_:)``.
  var vouched: [Range<Int>] = []
  /// `_testcapi.set_nomemory` state (NoMemoryHooks.swift).
  var noMemory: NoMemoryHooks? = nil

  /// Sets up the domains of `build` as `PYTHONMALLOC=allocator` would ("" = not set = the build default).
  public init(build: PyBuild = .release, allocator name: String = "", options: PyMemOptions = PyMemOptions(),
              system: RawAllocator = SystemRawAllocator(), pages: PageSource = MmapPageSource(),
              mimalloc: MimallocBackingProvider? = nil, bugs: Set<DomainBug> = [],
              pymallocBugs: Set<PymallocBug> = []) throws(PyMemConfigError) {
    self.build = build
    self.bugs = bugs
    self.system = system
    self.mimallocProvider = mimalloc
    let malloc = MallocBacking(system: system, quarantine: options.mallocQuarantine, bugs: bugs)
    mallocBacking = malloc
    slots = PyMemDomain.allCases.map { DomainSlot($0, allocator: malloc, bugs: bugs) }
    rawForwarder = RawDomainForwarder(slot: slots[PyMemDomain.raw.rawValue], system: system)
    if build.pymallocUsable {
      let raw: RawAllocator = bugs.contains(.pymallocFallbackBypassesRaw) ? system : rawForwarder
      pymallocBacking = PymallocBacking(Pymalloc(pages: pages, raw: raw, bugs: pymallocBugs))
    } else {
      pymallocBacking = nil
    }
    let settings = DebugHookSettings(build: build, serialNumbers: options.serialNumbers, bugs: bugs)
    hookSettings = settings
    debugContexts = PyMemDomain.allCases.map { DebugHooks(domain: $0, wrapping: malloc, settings: settings) }
    settings.knownMemory = { [weak self] address in self?.readableRange(around: address) }
    try setupAllocators(name)
  }

  /// Back to the state ``init(build:allocator:options:system:pages:mimalloc:bugs:pymallocBugs:)`` leaves with
  /// the same build, options, system allocator, page source and bugs, configured for `name`: what a fresh
  /// instance per fuzz input gave, without making the backings, slots, contexts and pymalloc's tables and
  /// radix root again. In order: pymalloc gives back every arena and frees its radix nodes through RAW as it
  /// is installed now (what dropping the instance does, so a node goes back through the table that made it);
  /// the C heap drains its quarantine and forgets what is still live; mimalloc backings are dropped; the
  /// serial number, GIL predicate, fatal handler, vouched ranges and `set_nomemory` state start over; every
  /// slot and debug context holds `MALLOC_ALLOC` again, as in `init` before ``setupAllocators(_:)``.
  /// Blocks still held by callers become invalid.
  public func reset(allocator name: String = "") throws(PyMemConfigError) {
    pymallocBacking?.pymalloc.reset(keepSpares: false)
    mallocBacking.reset()
    mimallocBackings = [:]
    rawForwarder.resetCount()
    hookSettings.serialno = 0
    hookSettings.gilHeld = { true }
    hookSettings.onFatal = PyFatalError.printAndAbort
    vouched.removeAll()
    noMemory = nil
    for slot in slots { slot.allocator = mallocBacking }
    for context in debugContexts { context.wrapped = mallocBacking }
    debugEnabled = false
    configuredName = .default
    try setupAllocators(name)
  }

  // MARK: Configuration

  /// `_PyMem_SetupAllocators(name)`: installs the name's backings (resolved first, so an error changes
  /// nothing), then the debug hooks on all three domains if the name asks for them.
  public func setupAllocators(_ name: String) throws(PyMemConfigError) {
    let parsed = try PyMemAllocatorName.parse(name, for: build)
    let plan = DomainPlan.plan(for: parsed, build: build)
    var tables: [any BlockAllocator] = []
    for d in PyMemDomain.allCases { tables.append(try backing(plan[d], name: name.isEmpty ? "default" : name)) }
    for d in PyMemDomain.allCases { slots[d.rawValue].allocator = tables[d.rawValue] }
    debugEnabled = false
    if plan.debugHooks { setupDebugHooks() }
    configuredName = parsed
  }

  private func backing(_ kind: BackingKind, name: String) throws(PyMemConfigError) -> any BlockAllocator {
    switch kind {
    case .malloc:
      return mallocBacking
    case .pymalloc:
      return pymallocBacking!  // parse() accepted a pymalloc name or default, so the build has pymalloc
    case .mimalloc(let heap):
      if let existing = mimallocBackings[heap] { return existing }
      guard let provider = mimallocProvider else { throw .backingNotAvailable(name: name, backing: kind) }
      let made = provider.backing(for: heap, build: build, raw: rawForwarder)
      mimallocBackings[heap] = made
      return made
    }
  }

  /// `PyMem_SetupDebugHooks()`: for each domain not already hooked, save its table in that domain's debug
  /// context and install the debug functions. "Already hooked" compares the malloc function only:
  /// `_PyMem_DebugRawMalloc` for RAW, `_PyMem_DebugMalloc` (either context) for MEM and OBJ.
  public func setupDebugHooks() {
    for d in PyMemDomain.allCases {
      let slot = slots[d.rawValue]
      if isHooked(slot.allocator, in: d) {
        guard bugs.contains(.hooksInstalledTwice) else { continue }
        slot.allocator = DebugHooks(domain: d, wrapping: slot.allocator, settings: hookSettings)
        continue
      }
      debugContexts[d.rawValue].wrapped = slot.allocator
      slot.allocator = debugContexts[d.rawValue]
    }
    debugEnabled = true
  }

  private func isHooked(_ allocator: any BlockAllocator, in domain: PyMemDomain) -> Bool {
    guard case .debugHooks(let context) = allocator.identity else { return false }
    return domain == .raw ? context == .raw : context != .raw
  }

  /// `PyMem_GetAllocator(domain)`.
  public func getAllocator(_ domain: PyMemDomain) -> any BlockAllocator { slots[domain.rawValue].allocator }

  /// `PyMem_SetAllocator(domain, table)`. After the first allocation a new table must wrap the old one.
  public func setAllocator(_ domain: PyMemDomain, _ allocator: any BlockAllocator) {
    slots[domain.rawValue].allocator = allocator
  }

  /// The debug context of a domain (`_PyRuntime.allocators.debug.<domain>`), installed or not.
  public func debugContext(_ domain: PyMemDomain) -> DebugHooks { debugContexts[domain.rawValue] }

  /// `_PyMem_GetCurrentAllocatorName()`: "malloc", "pymalloc", "mimalloc" or the same with "_debug" when
  /// the three debug contexts are installed and wrap those; nil for anything else (a user hook, say).
  public func currentAllocatorName() -> String? {
    let installed = PyMemDomain.allCases.map { slots[$0.rawValue].allocator.identity }
    if let name = Self.plainName(installed, build) { return name }
    guard installed == [.debugHooks(.raw), .debugHooks(.mem), .debugHooks(.obj)] else { return nil }
    return Self.plainName(debugContexts.map { $0.wrapped.identity }, build).map { $0 + "_debug" }
  }

  /// `get_current_allocator_name_unlocked`'s comparisons for one triple of tables.
  private static func plainName(_ ids: [AllocatorIdentity], _ build: PyBuild) -> String? {
    if ids == [.malloc, .malloc, .malloc] { return "malloc" }
    if build.withPymalloc && ids == [.malloc, .pymalloc, .pymalloc] { return "pymalloc" }
    if build.withMimalloc && ids == [.malloc, .mimalloc, .mimallocObject] { return "mimalloc" }
    return nil
  }

  /// The readable range containing `address` according to any backing: a pymalloc arena, a live C-heap
  /// block, or whatever a mimalloc backing knows. Model-only (see ``BlockAllocator/readableRange(around:)``).
  public func readableRange(around address: Int) -> Range<Int>? {
    if let range = pymallocBacking?.readableRange(around: address) ?? mallocBacking.readableRange(around: address) {
      return range
    }
    for backing in mimallocBackings.values {
      if let range = backing.readableRange(around: address) { return range }
    }
    return vouched.first { $0.contains(address) }
  }

  /// Model-only: the caller vouches that `range` is mapped, readable and its own (a harness buffer around a
  /// foreign pointer), so the hooks may read it where CPython would. Until ``forgetVouched()``.
  public func vouchReadable(_ range: Range<Int>) { vouched.append(range) }
  public func forgetVouched() { vouched.removeAll() }

  // MARK: Hook policy

  /// "The caller holds the GIL" (`PyGILState_Check`; 3.14: a thread state is attached). Default: always.
  public var gilHeld: () -> Bool {
    get { hookSettings.gilHeld }
    set { hookSettings.gilHeld = newValue }
  }

  /// Where fatal errors of the debug hooks go. Default: ``PyFatalError/printAndAbort(_:)``.
  public var onFatal: FatalHandler {
    get { hookSettings.onFatal }
    set { hookSettings.onFatal = newValue }
  }

  // MARK: Public entry points (PyMem_Raw*, PyMem_*, PyObject_*)

  /// `PyMem_RawMalloc` / `PyMem_Malloc` / `PyObject_Malloc`: nil above PY_SSIZE_T_MAX.
  public func malloc(_ domain: PyMemDomain, _ size: UInt) -> UnsafeMutableRawPointer? {
    slots[domain.rawValue].malloc(size)
  }

  /// `…Calloc(nelem, elsize)`: nil if `elsize != 0 && nelem > PY_SSIZE_T_MAX / elsize`.
  public func calloc(_ domain: PyMemDomain, _ nelem: UInt, _ elsize: UInt) -> UnsafeMutableRawPointer? {
    slots[domain.rawValue].calloc(nelem, elsize)
  }

  /// `…Realloc(p, size)`: nil above PY_SSIZE_T_MAX; on nil `p` is still valid.
  public func realloc(_ domain: PyMemDomain, _ p: UnsafeMutableRawPointer?, _ size: UInt)
    -> UnsafeMutableRawPointer? {
    slots[domain.rawValue].realloc(p, size)
  }

  /// `…Free(p)`; NULL is a no-op at every layer (after the GIL check under hooks).
  public func free(_ domain: PyMemDomain, _ p: UnsafeMutableRawPointer?) { slots[domain.rawValue].free(p) }
}
