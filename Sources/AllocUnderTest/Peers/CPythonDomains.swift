// CPythonDomains.swift — CPython 3.11's real PyMem domains and debug hooks (Objects/obmalloc.c in
// libpython3.11.so.1.0), without Py_Initialize: the twelve PyMem_Raw*/PyMem_*/PyObject_* entry points,
// configuration by PYTHONMALLOC name (`_PyMem_GetAllocatorName` + `_PyMem_SetupAllocators`),
// `PyMem_SetupDebugHooks`, `_PyMem_GetCurrentAllocatorName` and the installed tables (`PyMem_GetAllocator`).
// It shares the process's one libpython with ``CPythonPymalloc`` (whose arena hooks stay installed, so pool
// memory is known exactly) and, like it, has one user at a time (``CPythonPymalloc/claim(_:)``).
// Calls that may end in `Py_FatalError` run in a forked child (``ForkedCall``): ``runForked(_:)``. The GIL
// check cannot fire in this process (PyGILState_Check says "held" before Py_Initialize, probed), so for
// ``DomainCall/mallocWithoutGIL(_:_:)`` the child initializes Python and releases the GIL first.
// Entry points: ``CPythonDomains/shared()``, ``restorePristine()``, ``setupAllocators(_:)``.
#if canImport(Glibc)
import Glibc
#endif

public final class CPythonDomains: @unchecked Sendable {
  // @unchecked: the function pointers and contexts are written once in init; libpython's state is touched
  // only by the holder of the CPythonPymalloc claim.
  // The four entry points have the C types PyObject_Malloc & co. have in ``CPythonPymalloc``.
  typealias Malloc = CPythonPymalloc.Malloc
  typealias Calloc = CPythonPymalloc.Calloc
  typealias Realloc = CPythonPymalloc.Realloc
  typealias Free = CPythonPymalloc.Free
  typealias Void0 = @convention(c) () -> Void
  typealias Name = @convention(c) () -> UnsafePointer<CChar>?
  typealias ParseName = @convention(c) (UnsafePointer<CChar>?, UnsafeMutablePointer<Int32>?) -> Int32
  typealias SetupAllocators = @convention(c) (Int32) -> Int32
  typealias SaveThread = @convention(c) () -> UnsafeMutableRawPointer?

  /// One domain's four public functions.
  struct Entry {
    var malloc: Malloc
    var calloc: Calloc
    var realloc: Realloc
    var free: Free
  }

  public let pymalloc: CPythonPymalloc
  private let entries: [Entry]
  private let setupHooks: Void0
  private let currentName: Name
  private let parseName: ParseName
  private let setupByName: SetupAllocators
  private let initialize: Void0
  private let saveThread: SaveThread
  /// `PyMem_GetAllocator(d).ctx` once the hooks are installed: the address of `_PyMem_Debug.{raw,mem,obj}`
  /// (learnt at load by installing the hooks over the pristine tables once).
  public let debugContexts: [Int]

  private static let instance = PeerOnce<CPythonDomains>()

  /// The process's one instance, over ``CPythonPymalloc/shared()``'s library.
  public static func shared() throws(PeerUnavailable) -> CPythonDomains {
    try instance.get { () throws(PeerUnavailable) in try CPythonDomains(try CPythonPymalloc.shared()) }
  }

  private init(_ pymalloc: CPythonPymalloc) throws(PeerUnavailable) {
    self.pymalloc = pymalloc
    let lib = pymalloc.library
    var entries: [Entry] = []
    for prefix in ["PyMem_Raw", "PyMem_", "PyObject_"] {
      entries.append(Entry(malloc: try lib.function(prefix + "Malloc", as: Malloc.self),
                           calloc: try lib.function(prefix + "Calloc", as: Calloc.self),
                           realloc: try lib.function(prefix + "Realloc", as: Realloc.self),
                           free: try lib.function(prefix + "Free", as: Free.self)))
    }
    self.entries = entries
    setupHooks = try lib.function("PyMem_SetupDebugHooks", as: Void0.self)
    currentName = try lib.function("_PyMem_GetCurrentAllocatorName", as: Name.self)
    parseName = try lib.function("_PyMem_GetAllocatorName", as: ParseName.self)
    setupByName = try lib.function("_PyMem_SetupAllocators", as: SetupAllocators.self)
    initialize = try lib.function("Py_Initialize", as: Void0.self)
    saveThread = try lib.function("PyEval_SaveThread", as: SaveThread.self)
    debugContexts = try Self.learnDebugContexts(pymalloc, setupHooks)
  }

  /// The hooks' three contexts, learnt in a forked child that installs the hooks over the pristine tables
  /// and writes back the three tables (120 bytes on its fd 2). Not in this process: this runs before any
  /// claim, and installing the hooks even for a moment would change the tables under the adapter that
  /// holds the library now (CI stop 16: a stress run's block was freed through hooks it was not made by).
  /// The contexts learnt again (a test: the tables in this process must not change meanwhile).
  package func learnDebugContextsAgain() throws(PeerUnavailable) -> [Int] { try Self.learnDebugContexts(pymalloc, setupHooks) }

  private static func learnDebugContexts(_ pymalloc: CPythonPymalloc, _ setupHooks: Void0) throws(PeerUnavailable) -> [Int] {
    let size = 40
    let pristine = UnsafeMutableRawPointer.allocate(byteCount: 3 * size, alignment: 8)
    let learnt = UnsafeMutableRawPointer.allocate(byteCount: 3 * size, alignment: 8)
    defer {
      unsafe pristine.deallocate()
      unsafe learnt.deallocate()
    }
    for d in 0...2 { unsafe pymalloc.pristineTables[d].withUnsafeBytes { unsafe (pristine + d * size).copyMemory(from: $0.baseAddress!, byteCount: size) } }
    let set = pymalloc.setAllocator, get = pymalloc.getAllocator
    // The child only calls C functions resolved before the fork, on buffers made before it (ForkedCall).
    let outcome = ForkedCall.run(timeoutMilliseconds: 10_000) {
      for d in 0...2 { unsafe set(Int32(d), pristine + d * size) }
      setupHooks()
      for d in 0...2 { unsafe get(Int32(d), learnt + d * size) }
      _ = unsafe write(2, learnt, 3 * size)
    }
    guard let outcome, outcome.exitStatus == 0, outcome.stderr.count == 3 * size else {
      throw PeerUnavailable(peer: .cpythonDebug, reason: "could not learn the debug hooks' contexts in a child (\(outcome.map { "\($0.statusText), \($0.stderr.count) bytes" } ?? "fork failed"))")
    }
    return (0...2).map { d in context(of: Array(outcome.stderr[(d * size)..<((d + 1) * size)])) }
  }

  // MARK: Configuration

  /// RAW, MEM and OBJ back to libpython's tables at load (no hooks, glibc and pymalloc): every run starts so.
  public func restorePristine() {
    for d in 0...2 { pymalloc.setTable(Int32(d), pymalloc.pristineTables[d]) }
  }

  /// `_PyMem_SetupAllocators` for a PYTHONMALLOC name ("" = default), or why 3.11's release build refuses it.
  public func setupAllocators(_ name: String) throws(PeerUnavailable) {
    var parsed: Int32 = -1
    guard unsafe parseName(name, &parsed) == 0 else {
      throw PeerUnavailable(peer: .cpythonDebug, reason: "libpython3.11 (release build) cannot configure PYTHONMALLOC=\(name): unknown allocator")
    }
    guard setupByName(parsed) == 0 else {
      throw PeerUnavailable(peer: .cpythonDebug, reason: "_PyMem_SetupAllocators refused PYTHONMALLOC=\(name)")
    }
  }

  /// `PyMem_SetupDebugHooks()`.
  public func setupDebugHooks() { setupHooks() }

  /// `_PyMem_GetCurrentAllocatorName()`, nil for NULL.
  public func currentAllocatorName() -> String? { unsafe currentName().map { unsafe String(cString: $0) } }

  /// The `ctx` of the table installed on `domain` (`PyMem_GetAllocator`).
  public func installedContext(_ domain: PyMemDomain) -> Int { Self.context(of: pymalloc.table(Int32(domain.rawValue))) }

  private static func context(of table: [UInt8]) -> Int {
    table.prefix(8).reversed().reduce(0) { $0 << 8 | Int($1) }
  }

  // MARK: The public entry points, by address

  public func malloc(_ d: PyMemDomain, _ n: UInt64) -> Int? { Self.address(unsafe entries[d.rawValue].malloc(UInt(n))) }
  public func calloc(_ d: PyMemDomain, _ count: UInt64, _ size: UInt64) -> Int? {
    Self.address(unsafe entries[d.rawValue].calloc(UInt(count), UInt(size)))
  }
  public func realloc(_ d: PyMemDomain, _ address: Int?, _ n: UInt64) -> Int? {
    Self.address(unsafe entries[d.rawValue].realloc(Self.pointer(address), UInt(n)))
  }
  public func free(_ d: PyMemDomain, _ address: Int?) { unsafe entries[d.rawValue].free(Self.pointer(address)) }

  private static func address(_ p: UnsafeMutableRawPointer?) -> Int? { p.map { Int(bitPattern: $0) } }
  private static func pointer(_ a: Int?) -> UnsafeMutableRawPointer? { a.flatMap { UnsafeMutableRawPointer(bitPattern: $0) } }

  /// The live pymalloc arena around `address`, whose bytes stay mapped whether its blocks are free or not.
  /// C-heap blocks are glibc's: after free nobody vouches for them (tcache words, or unmapped), so nil.
  public func arenaRange(around address: Int) -> Range<Int>? {
    pymalloc.arenaBase(containing: address).map { $0..<($0 + PymallocLayout.arenaSize) }
  }

  // MARK: Calls that may end in Py_FatalError

  /// Runs `call` in a forked child (stderr and status captured); nil if no child could be made. For
  /// `mallocWithoutGIL` the child first runs Py_Initialize and PyEval_SaveThread, so the GIL check can fire.
  public func runForked(_ call: DomainCall) -> ForkedOutcome? {
    // Everything the child needs is resolved here, before the fork.
    switch call {
    case .free(let d, let a):
      let f = entries[d.rawValue].free, p = Self.pointer(a)
      return ForkedCall.run { unsafe f(p) }
    case .realloc(let d, let a, let n):
      let f = entries[d.rawValue].realloc, p = Self.pointer(a), size = UInt(n)
      return ForkedCall.run { _ = unsafe f(p, size) }
    case .mallocThenFree(let d, let n):
      let e = entries[d.rawValue], size = UInt(n)
      return ForkedCall.run { unsafe e.free(unsafe e.malloc(size)) }
    case .mallocWithoutGIL(let d, let n):
      let m = entries[d.rawValue].malloc, size = UInt(n), initialize = initialize, save = saveThread
      return ForkedCall.run {
        initialize()
        _ = unsafe save()
        _ = unsafe m(size)
      }
    }
  }

  /// Runs `call` here (after its child returned quietly). Returns realloc's or malloc's result. In this
  /// process Python is never initialized, so `mallocWithoutGIL` is a plain malloc and free.
  public func runInProcess(_ call: DomainCall) -> Int? {
    switch call {
    case .free(let d, let a):
      free(d, a)
      return nil
    case .realloc(let d, let a, let n):
      return realloc(d, a, n)
    case .mallocThenFree(let d, let n), .mallocWithoutGIL(let d, let n):
      let a = malloc(d, n)
      free(d, a)
      return a
    }
  }
}

extension ForkedOutcome {
  /// The first "Fatal Python error: …" line the child printed, decoded like test_mem.py decodes stderr
  /// (bytes ≥ 0x80 become U+FFFD; an API id of 0 stays a NUL), or nil if it printed none.
  public var pythonFatalLine: String? {
    let marker = Array("Fatal Python error: ".utf8)
    guard stderr.count >= marker.count,
      let start = (0...(stderr.count - marker.count)).first(where: { stderr[$0..<($0 + marker.count)].elementsEqual(marker) })
    else { return nil }
    let end = stderr[start...].firstIndex(of: UInt8(ascii: "\n")) ?? stderr.endIndex
    return asciiReplacing(Array(stderr[start..<end]))
  }

  /// All of stderr, decoded the same way.
  public var stderrText: String { asciiReplacing(stderr) }
}
