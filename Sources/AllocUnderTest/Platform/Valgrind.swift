// Valgrind.swift — the reference allocators' Valgrind annotations (the C target ValgrindShim makes the
// client requests). Two families:
//   Memcheck — each pymalloc arena and each mimalloc page is a memory pool; a block handed out is a pool
//   chunk (accessible, undefined), a freed block and the never-used part of a pool are inaccessible. The
//   allocator's own reads and writes of a free block's link word happen inside ``Memcheck/linkWord(_:_:)``,
//   which opens the word and closes it again, so any *other* access to a free block is reported.
//   Happens-before — Helgrind and DRD understand pthread primitives only; Swift's `Atomic` and the futex
//   under `Mutex` are invisible to them. ``HappensBefore`` adds the edges those primitives create.
// Outside Valgrind every annotation returns at one cached check (``Memcheck/active``, read once) before any
// C call, so the allocators' hot paths (free-list links, frees, the cross-thread CASes) pay a load and a
// branch; without Valgrind's headers the shim compiles to empty functions. The one other state here is
// ``HappensBefore/Recorder``, for tests (debug or AC_TEST_HOOKS builds): while one is installed, edges are also recorded.
import Synchronization
import ValgrindShim

public enum Memcheck {
  /// True when the shim was built with Valgrind's headers (false: every annotation is a no-op).
  public static var compiledIn: Bool { ac_vg_compiled_in() != 0 }
  /// True when the process runs under any Valgrind tool.
  public static var running: Bool { ac_vg_running() != 0 }
  /// Errors memcheck reported so far (0 under other tools or outside Valgrind).
  public static var errorCount: Int { Int(ac_mc_count_errors()) }
  /// ``running``, asked once: the guard of every annotation (a process cannot come under Valgrind later).
  public static let active = running

  /// A pool comes to life at `anchor` (an arena or page start); its bytes `[anchor, anchor + size)` are
  /// made inaccessible until blocks are handed out of it.
  static func createPool(_ anchor: UInt, inaccessible size: Int) {
    guard active, let p = pointer(anchor) else { return }
    ac_mc_create_pool(p)
    ac_mc_make_noaccess(p, size)
  }

  /// The pool at `anchor` is gone (its chunks with it); its bytes become plain mapped memory again, with
  /// `[anchor, anchor + size)` made accessible-undefined for whatever reuses them.
  static func destroyPool(_ anchor: UInt, size: Int) {
    guard active, let p = pointer(anchor) else { return }
    ac_mc_destroy_pool(p)
    ac_mc_make_undefined(p, size)
  }

  /// A block of `size` bytes at `block` is handed out of the pool at `anchor`.
  static func allocated(_ block: UInt, size: Int, pool anchor: UInt) {
    guard active, let p = pointer(anchor), let b = pointer(block) else { return }
    ac_mc_pool_alloc(p, b, size)
  }

  /// The block at `block` goes back to the pool at `anchor` (memcheck reports it if it was not handed
  /// out: a double free or a wild pointer).
  static func freed(_ block: @autoclosure () -> UInt, pool anchor: UInt) {
    guard active, let p = pointer(anchor), let b = pointer(block()) else { return }
    ac_mc_pool_free(p, b)
  }

  /// Makes `[address, address + size)` accessible and defined: allocator metadata stored in pool memory (a
  /// pymalloc pool header), or a block the allocator has just zeroed.
  static func defined(_ address: UInt, size: Int) {
    guard active, let p = pointer(address) else { return }
    ac_mc_make_defined(p, size)
  }

  /// Runs `body` with the 8-byte link word of the free block at `block` open, then closes it again.
  /// Only for blocks the allocator knows to be free (or about to be handed out, before ``allocated``).
  @inline(__always)
  static func linkWord<R>(_ block: UInt, _ body: () -> R) -> R {
    guard active, let p = pointer(block) else { return body() }
    ac_mc_make_defined(p, 8)
    defer { ac_mc_make_noaccess(p, 8) }
    return body()
  }

  private static func pointer(_ address: UInt) -> UnsafeRawPointer? { UnsafeRawPointer(bitPattern: address) }
}

/// Happens-before edges for Helgrind and DRD, keyed by an address (an object's or a field's). Active only
/// when `AC_VALGRIND_TOOL` names one of them (scripts/stress-valgrind sets it).
public enum HappensBefore {
  /// Everything this thread did so far happens before whatever follows a later ``after(_:)`` on `key`.
  @inline(__always) public static func before(_ key: @autoclosure () -> UInt) {
    if Memcheck.active, let p = UnsafeRawPointer(bitPattern: key()) { ac_hb_before(p) }
    #if DEBUG || AC_TEST_HOOKS
    if recording.load(ordering: .relaxed) { record(key(), after: false) }  // rare: a test's Recorder
    #endif
  }
  @inline(__always) public static func after(_ key: @autoclosure () -> UInt) {
    if Memcheck.active, let p = UnsafeRawPointer(bitPattern: key()) { ac_hb_after(p) }
    #if DEBUG || AC_TEST_HOOKS
    if recording.load(ordering: .relaxed) { record(key(), after: true) }
    #endif
  }

  /// The edges' keys as they are annotated, for a test: an `after` on a key no `before` used is an edge
  /// Helgrind and DRD never get, which they report only if a run happens to hit the unordered accesses.
  /// Debug builds and test builds only (`swift test`; scripts/test compiles with `-D AC_TEST_HOOKS`): the
  /// release build records nothing, so its annotations cost what they did (a recording check there cost 0.8 %
  /// more instructions on `explore`, measured).
  public final class Recorder: Sendable {
    private let keys = Mutex<(befores: Set<UInt>, unmatched: [UInt])>(([], []))
    public init() {}
    fileprivate func add(_ key: UInt, after: Bool) {
      keys.withLock { k in
        if !after { k.befores.insert(key) } else if !k.befores.contains(key) { k.unmatched.append(key) }
      }
    }
    /// The keys among `keys` that had a `before`.
    public func befores(among keys: Set<UInt>) -> Set<UInt> { self.keys.withLock { $0.befores.intersection(keys) } }
    /// The keys among `keys` whose `after` came with no earlier `before` on the same key.
    public func unmatchedAfters(among keys: Set<UInt>) -> [UInt] { self.keys.withLock { $0.unmatched.filter(keys.contains) } }
  }

  /// Runs `body` with `recorder` receiving every edge of every thread (tests running beside it included:
  /// filter by your own objects' keys).
  public static func recording<R>(into recorder: Recorder, _ body: () throws -> R) rethrows -> R {
    recorders.withLock { $0.append(recorder); recording.store(true, ordering: .relaxed) }
    defer {
      recorders.withLock { r in
        r.removeAll { $0 === recorder }
        recording.store(!r.isEmpty, ordering: .relaxed)
      }
    }
    return try body()
  }

  /// False in a release build without AC_TEST_HOOKS: there a recorder receives nothing.
  #if DEBUG || AC_TEST_HOOKS
  public static let recorderAvailable = true
  #else
  public static let recorderAvailable = false
  #endif

  private static let recording = Atomic<Bool>(false)
  private static let recorders = Mutex<[Recorder]>([])
  @inline(never) private static func record(_ key: UInt, after: Bool) {
    for r in recorders.withLock({ $0 }) { r.add(key, after: after) }
  }
  /// The key of a class instance (its address), plus `field` to tell apart several edges of one object.
  @inline(__always) public static func key(_ object: AnyObject, field: UInt = 0) -> UInt {
    UInt(bitPattern: Int(bitPattern: ObjectIdentifier(object))) &+ field
  }
}
