// RefABI.swift — the C ABI of the reference allocators (product `alloccheck-ref`, a shared library):
// `@_cdecl` entry points and nothing else. The allocators stay in AllocUnderTest, the oracle that checks
// every call is ``CallOracle`` and the recorder ``CallRecorder`` (both Harness). The C declarations are in
// Sources/AllocCheckHost/alloccheck_ref.h, which documents each function.
//
// One reference instance per process, opened by `acr_open`. Calls are serialized by one lock (CPython holds
// the GIL around the OBJ and MEM domains anyway; other callers may have threads).

import AllocUnderTest
import Harness
import Oracle

#if canImport(Glibc)
import Glibc
#endif

/// Everything one `acr_open` made.
final class RefState {
  let pymalloc: PymallocAdapter?
  let mimalloc: MimallocAdapter?
  let oracle: CallOracle
  /// Seeded pymalloc bugs switched on once ``bugFrom`` calls were made (`bug-from=N`), then cleared.
  var pendingBugs: Set<PymallocBug> = []
  var bugFrom = Int.max
  /// `bug-from=main+K`: K, until acr_arm_bugs turns it into ``bugFrom``.
  var armOffset: Int? = nil
  /// heap handle (1, 2, …) → the adapter's heap id.
  var heaps: [Int: Int] = [:]
  var nextHeap = 1

  init(pymalloc: PymallocAdapter?, mimalloc: MimallocAdapter?, oracle: CallOracle) {
    self.pymalloc = pymalloc
    self.mimalloc = mimalloc
    self.oracle = oracle
  }

  /// Switches the pending bugs on when their call has come (one compare per call otherwise).
  @inline(__always) func armBugs() {
    guard oracle.counts.calls >= bugFrom, let p = pymalloc else { return }
    p.allocator.bugs = pendingBugs
    bugFrom = Int.max
  }
}

public typealias ViolationHandler = @convention(c) (UnsafePointer<CChar>?, Int, UnsafePointer<CChar>?) -> Void

/// The process's one reference instance and recorder; touched only under ``callLock``.
struct Globals {
  var state: RefState? = nil
  var recorder: CallRecorder? = nil
  var recordFiles: [UnsafeMutablePointer<FILE>?] = []
  var handler: ViolationHandler? = nil
  var lastError = ""
}

nonisolated(unsafe) var globalState = Globals()

/// One recursive lock serializes every entry point: the violation handler runs inside a call and may exit,
/// and the exit path may call back in (acr_report from an atexit handler).
final class CallLock: @unchecked Sendable {
  private var m = pthread_mutex_t()
  init() {
    var attr = pthread_mutexattr_t()
    pthread_mutexattr_init(&attr)
    pthread_mutexattr_settype(&attr, Int32(PTHREAD_MUTEX_RECURSIVE))
    pthread_mutex_init(&m, &attr)
    pthread_mutexattr_destroy(&attr)
  }
  func lock() { pthread_mutex_lock(&m) }
  func unlock() { pthread_mutex_unlock(&m) }
}
let callLock = CallLock()

enum globals {
  static func withLock<R>(_ body: (inout Globals) -> R) -> R {
    callLock.lock()
    defer { callLock.unlock() }
    return body(&globalState)
  }
}

/// Parses `key=value` pairs separated by `,` or `;`.
func parseOptions(_ text: String) -> [String: String] {
  var out: [String: String] = [:]
  for part in text.split(whereSeparator: { $0 == "," || $0 == ";" }) {
    let kv = part.split(separator: "=", maxSplits: 1).map { String($0).trimmingSpaces }
    out[kv[0]] = kv.count > 1 ? kv[1] : "1"
  }
  return out
}

extension String {
  var trimmingSpaces: String {
    var s = Substring(self)
    while s.first == " " { s.removeFirst() }
    while s.last == " " { s.removeLast() }
    return String(s)
  }
}

func flag(_ options: [String: String], _ key: String, default value: Bool) -> Bool? {
  guard let v = options[key] else { return value }
  switch v {
  case "1", "on", "yes", "true": return true
  case "0", "off", "no", "false": return false
  default: return nil
  }
}

/// Opens the reference allocator. `options`: `allocator=pymalloc|mimalloc`, `checks=on|off`,
/// `invariants=on|off`, `stats=on|off`, `bug=NAME` (a seeded bug of the reference, `alloc-check bugs`; `+`
/// joins several), `bug-from=N` (pymalloc: switch the bugs on at call N, so a violation happens in the
/// middle of a program rather than at its start; `main+K`: K calls after `acr_arm_bugs`). Returns 0, or -1 with `acr_last_error` set.
@_cdecl("acr_open")
public func acr_open(_ options: UnsafePointer<CChar>?) -> Int32 {
  let text = options.map { String(cString: $0) } ?? ""
  let o = parseOptions(text)
  let known: Set<String> = ["allocator", "checks", "invariants", "stats", "bug", "bug-from"]
  if let bad = o.keys.first(where: { !known.contains($0) }) {
    globals.withLock { $0.lastError = "unknown option '\(bad)' (known: allocator, checks, invariants, stats, bug, bug-from)" }
    return -1
  }
  let bugNames = o["bug"].map { $0.split(separator: "+").map(String.init) } ?? []
  // bug-from=main[+K]: armed later, K calls after acr_arm_bugs (the host calls it when start-up is over).
  var armOffset: Int? = nil
  if let v = o["bug-from"], v.hasPrefix("main") {
    armOffset = v == "main" ? 0 : v.hasPrefix("main+") ? Int(v.dropFirst(5)) : nil
    if armOffset == nil || armOffset! < 0 {
      globals.withLock { $0.lastError = "bug-from takes a call index ≥ 0, main or main+K" }
      return -1
    }
  }
  let bugFrom = armOffset != nil ? Int.max : o["bug-from"].flatMap { Int($0) }
  if o["bug-from"] != nil && (bugFrom == nil || bugFrom! < 0) {
    globals.withLock { $0.lastError = "bug-from takes a call index ≥ 0, main or main+K" }
    return -1
  }
  guard let checks = flag(o, "checks", default: true), let invariants = flag(o, "invariants", default: true),
        let stats = flag(o, "stats", default: true) else {
    globals.withLock { $0.lastError = "checks, invariants and stats take on or off: '\(text)'" }
    return -1
  }
  let config = CallOracleConfig(checks: checks, invariants: invariants, statistics: stats)
  let state: RefState
  switch o["allocator", default: "pymalloc"] {
  case "pymalloc":
    // No recycling of released arenas: an arena given back is unmapped, as CPython does.
    guard let bugs: Set<PymallocBug> = parseBugs(bugNames, "pymalloc") else { return -1 }
    let p = PymallocAdapter(bugs: bugFrom == nil ? bugs : [], pages: MmapPageSource())
    state = RefState(pymalloc: p, mimalloc: nil, oracle: CallOracle(adapter: p, oracle: .full, config: config))
    if let bugFrom {
      state.pendingBugs = bugs
      state.bugFrom = bugFrom
      state.armOffset = armOffset
    }
  case "mimalloc":
    guard let bugs: Set<MimallocBug> = parseBugs(bugNames, "mimalloc") else { return -1 }
    let m = MimallocAdapter(bugs: bugs)
    state = RefState(pymalloc: nil, mimalloc: m, oracle: CallOracle(adapter: m, oracle: .heaps, config: config))
  case let other:
    globals.withLock { $0.lastError = "unknown allocator '\(other)' (pymalloc or mimalloc)" }
    return -1
  }
  state.oracle.onViolation = { v in
    if let h = globalState.handler {
      v.rule.withCString { r in v.detail.withCString { d in h(r, v.opIndex, d) } }
    }
  }
  globals.withLock { $0.state = state }
  return 0
}

/// With `bug-from=main+K`: the seeded bugs strike K calls from now.
@_cdecl("acr_arm_bugs")
public func acr_arm_bugs() {
  withState({ s in
    guard let k = s.armOffset else { return }
    s.bugFrom = s.oracle.counts.calls + k
    s.armOffset = nil
  }, otherwise: ())
}

/// Seeded bugs by name, or nil with `acr_last_error` saying which name is unknown.
func parseBugs<Bug: RawRepresentable & Hashable>(_ names: [String], _ allocator: String) -> Set<Bug>? where Bug.RawValue == String {
  var bugs: Set<Bug> = []
  for name in names {
    guard let b = Bug(rawValue: name) else {
      globals.withLock { $0.lastError = "unknown \(allocator) bug '\(name)' (alloc-check bugs lists them)" }
      return nil
    }
    bugs.insert(b)
  }
  return bugs
}

@_cdecl("acr_last_error")
public func acr_last_error() -> UnsafeMutablePointer<CChar>? {
  strdup(globals.withLock { $0.lastError })
}

/// Called with (rule, call index, detail) at the first violation; it may exit the process.
@_cdecl("acr_set_violation_handler")
public func acr_set_violation_handler(_ handler: ViolationHandler?) {
  globals.withLock { $0.handler = handler }
}

@inline(__always)
func withState<R>(_ body: (RefState) -> R, otherwise: R) -> R {
  callLock.lock()
  defer { callLock.unlock() }
  guard let s = globalState.state else { return otherwise }
  return body(s)
}

func address(_ p: UnsafeMutableRawPointer?) -> Int? { p.map { Int(bitPattern: $0) } }
func pointer(_ a: Int?) -> UnsafeMutableRawPointer? { a.flatMap { UnsafeMutableRawPointer(bitPattern: $0) } }

// MARK: PyMemAllocatorEx shapes: (ctx, …); ctx is ignored.

@_cdecl("acr_malloc")
public func acr_malloc(_ ctx: UnsafeMutableRawPointer?, _ n: Int) -> UnsafeMutableRawPointer? {
  withState({ $0.armBugs(); return pointer($0.oracle.malloc(UInt64(n))) }, otherwise: nil)
}

@_cdecl("acr_calloc")
public func acr_calloc(_ ctx: UnsafeMutableRawPointer?, _ count: Int, _ size: Int) -> UnsafeMutableRawPointer? {
  withState({ $0.armBugs(); return pointer($0.oracle.calloc(UInt64(count), UInt64(size))) }, otherwise: nil)
}

@_cdecl("acr_realloc")
public func acr_realloc(_ ctx: UnsafeMutableRawPointer?, _ p: UnsafeMutableRawPointer?, _ n: Int) -> UnsafeMutableRawPointer? {
  withState({ $0.armBugs(); return pointer($0.oracle.realloc(address(p), UInt64(n))) }, otherwise: nil)
}

@_cdecl("acr_free")
public func acr_free(_ ctx: UnsafeMutableRawPointer?, _ p: UnsafeMutableRawPointer?) {
  withState({ $0.armBugs(); return $0.oracle.free(address(p)) }, otherwise: ())
}

@_cdecl("acr_usable_size")
public func acr_usable_size(_ p: UnsafeMutableRawPointer?) -> Int {
  guard let a = address(p) else { return 0 }
  return withState({ $0.oracle.adapter.usableSize(a) }, otherwise: 0)
}

// MARK: mimalloc first-class heaps (allocator=mimalloc). Handles are 1, 2, …; 0 is "no heap".

@_cdecl("acr_heap_new")
public func acr_heap_new() -> Int {
  withState({ s in
    guard let m = s.mimalloc else { return 0 }
    let h = s.nextHeap
    s.nextHeap += 1
    s.heaps[h] = m.heapNew()
    return h
  }, otherwise: 0)
}

@_cdecl("acr_heap_malloc")
public func acr_heap_malloc(_ heap: Int, _ n: Int) -> UnsafeMutableRawPointer? {
  withState({ s in
    guard let m = s.mimalloc, let id = s.heaps[heap] else { return nil }
    return pointer(s.oracle.heapAllocate(heap: heap, UInt64(n)) { m.heapMalloc(.made(id), UInt64(n)) })
  }, otherwise: nil)
}

/// mi_heap_destroy: frees every block of the heap.
@_cdecl("acr_heap_destroy")
public func acr_heap_destroy(_ heap: Int) {
  withState({ s in
    guard let m = s.mimalloc, let id = s.heaps.removeValue(forKey: heap) else { return }
    m.heapDestroy(id)
    s.oracle.forgetHeap(heap)
  }, otherwise: ())
}

/// mi_heap_delete: the heap's blocks move to the default heap.
@_cdecl("acr_heap_delete")
public func acr_heap_delete(_ heap: Int) {
  withState({ s in
    guard let m = s.mimalloc, let id = s.heaps.removeValue(forKey: heap) else { return }
    m.heapDelete(id)
    s.oracle.adoptHeap(heap)
  }, otherwise: ())
}

// MARK: Report

/// Runs every walk (invariants, statistics, ownership); returns 0 when no violation was ever found.
@_cdecl("acr_finish")
public func acr_finish() -> Int32 {
  withState({ $0.oracle.finish() == nil ? 0 : 1 }, otherwise: 0)
}

/// `key=value` lines (calls, live, peak live, arenas, walks, verdict); free with free(3).
@_cdecl("acr_report")
public func acr_report() -> UnsafeMutablePointer<CChar>? {
  let text: String = withState({ s in
    let c = s.oracle.counts
    var lines = [
      "allocator=\(s.pymalloc != nil ? "pymalloc" : "mimalloc")",
      "calls=\(c.calls)", "mallocs=\(c.mallocs)", "callocs=\(c.callocs)", "reallocs=\(c.reallocs)", "frees=\(c.frees)",
      "live=\(c.live)", "peak_live=\(c.peakLive)",
      "walks=\(c.walks)", "stats_checks=\(c.statsChecks)", "sweeps=\(c.sweeps)",
      "checks=\(s.oracle.config.checks ? "on" : "off")",
    ]
    if let p = s.pymalloc {
      let st = p.allocator.stats()
      lines += ["arenas_allocated=\(st.arenasAllocatedTotal)", "arenas_current=\(st.arenasCurrent)",
                "arenas_peak=\(st.arenasHighwater)", "arenas_returned=\(st.arenasReclaimed)",
                "mapped_peak_bytes=\(p.allocator.pages.stats.peakMappedBytes)"]
    }
    if let m = s.mimalloc { lines += ["segments=\(m.segmentCount)"] }
    if let v = s.oracle.violation {
      lines += ["verdict=violation", "rule=\(v.rule)", "op=\(v.opIndex)", "detail=\(v.detail)"]
    } else {
      lines += ["verdict=\(s.oracle.config.checks ? "ok" : "unchecked")"]
    }
    return lines.joined(separator: "\n") + "\n"
  }, otherwise: "verdict=closed\n")
  return strdup(text)
}

// MARK: Recording (any allocator's calls: the caller reports each call and its result)

/// Starts writing calls as a pymalloc-family program: the text form to `textPath` and, if not NULL, the
/// binary form to `binaryPath`. `comment` goes under the text header. Returns 0 or -1 (see acr_last_error).
@_cdecl("acr_record_open")
public func acr_record_open(_ textPath: UnsafePointer<CChar>?, _ binaryPath: UnsafePointer<CChar>?,
                            _ comment: UnsafePointer<CChar>?) -> Int32 {
  guard let textPath else { return -1 }
  guard let t = fopen(textPath, "w") else {
    let why = String(cString: strerror(errno))
    globals.withLock { $0.lastError = "cannot write \(String(cString: textPath)): \(why)" }
    return -1
  }
  var b: UnsafeMutablePointer<FILE>? = nil
  if let binaryPath {
    b = fopen(binaryPath, "w")
    if b == nil {
      let why = String(cString: strerror(errno))
      fclose(t)
      globals.withLock { $0.lastError = "cannot write \(String(cString: binaryPath)): \(why)" }
      return -1
    }
  }
  let comments = comment.map { String(cString: $0).split(separator: "\n").map(String.init) } ?? []
  let write: (UnsafeMutablePointer<FILE>) -> RecordSink = { f in { bytes in _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) } } }
  let recorder = CallRecorder(text: write(t), binary: b.map(write), comments: comments)
  globals.withLock {
    $0.recorder = recorder
    $0.recordFiles = [t, b]
  }
  return 0
}

@inline(__always)
func withRecorder(_ body: (CallRecorder) -> Void) {
  callLock.lock()
  defer { callLock.unlock() }
  if let r = globalState.recorder { body(r) }
}

@_cdecl("acr_record_malloc")
public func acr_record_malloc(_ n: Int, _ result: UnsafeMutableRawPointer?) {
  withRecorder { $0.malloc(UInt64(n), result: address(result)) }
}

@_cdecl("acr_record_calloc")
public func acr_record_calloc(_ count: Int, _ size: Int, _ result: UnsafeMutableRawPointer?) {
  withRecorder { $0.calloc(UInt64(count), UInt64(size), result: address(result)) }
}

@_cdecl("acr_record_realloc")
public func acr_record_realloc(_ old: UnsafeMutableRawPointer?, _ n: Int, _ result: UnsafeMutableRawPointer?) {
  withRecorder { $0.realloc(address(old), UInt64(n), result: address(result)) }
}

@_cdecl("acr_record_free")
public func acr_record_free(_ p: UnsafeMutableRawPointer?) {
  withRecorder { $0.free(address(p)) }
}

/// Flushes and closes the record files; returns `key=value` lines (ops, skipped, binary=complete or why
/// not), to free with free(3). The binary file is removed when it could not be completed.
@_cdecl("acr_record_close")
public func acr_record_close(_ binaryPath: UnsafePointer<CChar>?) -> UnsafeMutablePointer<CChar>? {
  let (recorder, files) = globals.withLock { g in
    defer { g.recorder = nil; g.recordFiles = [] }
    return (g.recorder, g.recordFiles)
  }
  guard let recorder else { return strdup("record=none\n") }
  recorder.finish()
  for f in files { if let f { fclose(f) } }
  var lines = ["record_ops=\(recorder.ops)", "record_skipped=\(recorder.skipped)", "record_peak_live=\(recorder.peakLive)"]
  if let stop = recorder.binaryStoppedAt {
    if let binaryPath { unlink(binaryPath) }
    lines.append("record_binary=not written: op \(stop.op) \(stop.why)")
  } else {
    lines.append("record_binary=\(binaryPath == nil ? "not asked" : "complete")")
  }
  return strdup(lines.joined(separator: "\n") + "\n")
}
