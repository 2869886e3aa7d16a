// TestMemParityTests.swift — CPython's own allocator tests (Lib/test/test_capi/test_mem.py, plus the
// _testcapi self-tests it relies on) replayed against PyMemDomains, class by class, with the same
// expectations: where CPython's child process dies, an exit test runs the scenario in a child with the
// default fatal handler (print to stderr, abort) and matches its stderr with CPython's own regexes.
// The CPython test → Swift test table is the doc comment of ``TestMemParityTests`` below.
import Testing

#if canImport(Glibc)
import Glibc
#endif

@testable import AllocUnderTest

/// One class of test_mem.py's matrix (Codable: exit tests capture it).
struct MemClass: Codable, Sendable, Hashable, CustomTestStringConvertible {
  var name: String
  var pythonmalloc: String
  var pyDebug: Bool
  /// A free-threaded build: mimalloc backs MEM and OBJ by default.
  var freeThreaded = false
  var build: PyBuild { PyBuild(version: .v3_13, pyDebug: pyDebug, freeThreaded: freeThreaded) }
  var testDescription: String { name }

  static let runnable = [
    MemClass(name: "PyMemDebugTests", pythonmalloc: "debug", pyDebug: false),
    MemClass(name: "PyMemMallocDebugTests", pythonmalloc: "malloc_debug", pyDebug: false),
    MemClass(name: "PyMemPymallocDebugTests", pythonmalloc: "pymalloc_debug", pyDebug: false),
    MemClass(name: "PyMemDefaultTests", pythonmalloc: "", pyDebug: true),
    MemClass(name: "PyMemMimallocDebugTests", pythonmalloc: "mimalloc_debug", pyDebug: false),
    MemClass(name: "PyMemDefaultTests (free-threaded Py_DEBUG)", pythonmalloc: "", pyDebug: true, freeThreaded: true),
    MemClass(name: "PyMemDebugTests (free-threaded)", pythonmalloc: "debug", pyDebug: false, freeThreaded: true),
  ]

  /// The allocator name `_PyMem_GetCurrentAllocatorName` reports for the class.
  var expectedAllocatorName: String {
    switch pythonmalloc {
    case "", "debug": freeThreaded ? "mimalloc_debug" : "pymalloc_debug"
    default: pythonmalloc
    }
  }

  /// The class's domains; `quarantine` keeps freed C-heap blocks readable (see `freedIsFreed`).
  func domains(quarantine: Int = 0) -> PyMemDomains {
    try! PyMemDomains(build: build, allocator: pythonmalloc, options: PyMemOptions(mallocQuarantine: quarantine),
                      mimalloc: ReferenceMimallocProvider())
  }
}

/// `PTR_REGEX` of test_mem.py.
private let ptr = "(?:0x)?[0-9a-fA-F]+"

/// The child processes of the crash tests (`_testcapi.pymem_buffer_overflow` & co.), run with the default
/// fatal handler; they must not return.
enum TestMemChild {
  static func bufferOverflow(_ c: MemClass) {
    let d = c.domains()
    let buffer = d.malloc(.mem, 16)!
    domainPoke(buffer, 16, [UInt8(ascii: "x")])
    d.free(.mem, buffer)
  }

  static func apiMisuse(_ c: MemClass) {
    let d = c.domains()
    let buffer = d.malloc(.mem, 16)
    d.free(.raw, buffer)
  }

  static func mallocWithoutGIL(_ c: MemClass, _ domain: PyMemDomain) {
    let d = c.domains()
    d.gilHeld = { false }  // Py_BEGIN_ALLOW_THREADS
    let buffer = d.malloc(domain, 10)
    d.gilHeld = { true }  // Py_END_ALLOW_THREADS
    d.free(domain, buffer)
  }
}

private func stderrText(_ result: ExitTest.Result?) -> String { asciiReplacing(result?.standardErrorContent ?? []) }

private func abortedWithSIGABRT(_ result: ExitTest.Result?) -> Bool {
  if case .signal(let s)? = result?.exitStatus { return s == SIGABRT }
  return false
}

/// CPython's tests and where each lives here:
///
/// | CPython test (per class)                  | Swift test                                                    |
/// |-------------------------------------------|---------------------------------------------------------------|
/// | test_buffer_overflow                      | `bufferOverflow` (exit test, CPython's DOTALL regex)          |
/// | test_api_misuse                           | `apiMisuse` (exit test, CPython's regex)                      |
/// | test_pymem_malloc_without_gil             | `mallocWithoutGIL` with `.mem` (exit test, assertIn text)     |
/// | test_pyobject_malloc_without_gil          | `mallocWithoutGIL` with `.obj` (exit test, assertIn text)     |
/// | test_pyobject_null_is_freed               | `nullIsFreed`                                                 |
/// | test_pyobject_uninitialized_is_freed      | `uninitializedIsFreed`                                        |
/// | test_pyobject_forbidden_bytes_is_freed    | `forbiddenBytesIsFreed`                                       |
/// | test_pyobject_freed_is_freed              | `freedIsFreed` (C heap: quarantine 1, see the test)           |
/// | test_set_nomemory                         | `setNomemory` (one allocation per C() instance)               |
/// | _testcapi.test_pymem_alloc0               | `alloc0`                                                      |
/// | test_pymem_setrawallocators / _setallocators / test_pyobject_setallocators | `setAllocators` (RAW/MEM/OBJ) |
///
/// Classes: PyMemDebugTests ("debug"), PyMemMallocDebugTests ("malloc_debug"), PyMemPymallocDebugTests
/// ("pymalloc_debug"), PyMemMimallocDebugTests ("mimalloc_debug", the reference mimalloc through
/// ``ReferenceMimallocProvider``) on a 3.13 release GIL build; PyMemDefaultTests ("" on a Py_DEBUG build);
/// and the same tests on free-threaded builds, whose MEM and OBJ are mimalloc ("" on Py_DEBUG, "debug").
@Suite("test_mem.py parity")
struct TestMemParityTests {
  // MARK: Crash tests (CPython: assert_python_failure + regex over stderr)

  @Test("test_buffer_overflow", arguments: MemClass.runnable)
  func bufferOverflow(_ c: MemClass) async throws {
    let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) { [c] in
      TestMemChild.bufferOverflow(c)
    }
    let pattern = #"Debug memory block at address p=\#(ptr): API 'm'\n"#
      + #"    16 bytes originally requested\n"#
      + #"    The [0-9] pad bytes at p-[0-9] are FORBIDDENBYTE, as expected.\n"#
      + #"    The [0-9] pad bytes at tail=\#(ptr) are not all FORBIDDENBYTE \(0x[0-9a-f]{2}\):\n"#
      + #"        at tail\+0: 0x78 \*\*\* OUCH\n"#
      + #"        at tail\+1: 0xfd\n"#
      + #"        at tail\+2: 0xfd\n"#
      + #"        .*\n"#
      + #"(    The block was made by call #[0-9]+ to debug malloc/realloc.\n)?"#
      + #"    Data at p: cd cd cd .*\n"#
      + #"\n"#
      + #"Enable tracemalloc to get the memory block allocation traceback\n"#
      + #"\n"#
      + #"Fatal Python error: _PyMem_DebugRawFree: bad trailing pad byte"#
    let text = stderrText(result)
    #expect(try Regex(pattern).dotMatchesNewlines().firstMatch(in: text) != nil, "stderr:\n\(text)")
    #expect(abortedWithSIGABRT(result), "CPython's exit status is 134 (SIGABRT)")
  }

  @Test("test_api_misuse", arguments: MemClass.runnable)
  func apiMisuse(_ c: MemClass) async throws {
    let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) { [c] in
      TestMemChild.apiMisuse(c)
    }
    let pattern = #"Debug memory block at address p=\#(ptr): API 'm'\n"#
      + #"    16 bytes originally requested\n"#
      + #"    The [0-9] pad bytes at p-[0-9] are FORBIDDENBYTE, as expected.\n"#
      + #"    The [0-9] pad bytes at tail=\#(ptr) are FORBIDDENBYTE, as expected.\n"#
      + #"(    The block was made by call #[0-9]+ to debug malloc/realloc.\n)?"#
      + #"    Data at p: cd cd cd .*\n"#
      + #"\n"#
      + #"Enable tracemalloc to get the memory block allocation traceback\n"#
      + #"\n"#
      + #"Fatal Python error: _PyMem_DebugRawFree: bad ID: Allocated using API 'm', verified using API 'r'\n"#
    let text = stderrText(result)
    #expect(try Regex(pattern).firstMatch(in: text) != nil, "stderr:\n\(text)")
    #expect(abortedWithSIGABRT(result))
  }

  @Test("test_pymem_malloc_without_gil / test_pyobject_malloc_without_gil",
        arguments: MemClass.runnable, [PyMemDomain.mem, .obj])
  func mallocWithoutGIL(_ c: MemClass, _ domain: PyMemDomain) async throws {
    let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) { [c, domain] in
      TestMemChild.mallocWithoutGIL(c, domain)
    }
    let expected = "Fatal Python error: _PyMem_DebugMalloc: Python memory allocator called without holding the GIL"
    #expect(stderrText(result).contains(expected), "stderr:\n\(stderrText(result))")
    #expect(abortedWithSIGABRT(result))
  }

  // MARK: _PyObject_IsFreed (CPython: assert_python_ok)

  @Test("test_pyobject_null_is_freed", arguments: MemClass.runnable)
  func nullIsFreed(_ c: MemClass) {
    #expect(c.domains().objectIsFreed(nil) == true)
  }

  @Test("test_pyobject_uninitialized_is_freed: ob_type is still 0xCD…", arguments: MemClass.runnable)
  func uninitializedIsFreed(_ c: MemClass) throws {
    let d = c.domains()
    let op = try #require(d.malloc(.obj, UInt(PyObjectProbe.objectHeaderSize(c.build))))
    op.storeBytes(of: 1, as: Int.self)  // Py_SET_REFCNT(op, 1); ob_type left uninitialised
    #expect(d.objectIsFreed(op) == true)
  }

  @Test("test_pyobject_forbidden_bytes_is_freed: ob_type lies in the trailing 0xFD bytes",
        arguments: MemClass.runnable)
  func forbiddenBytesIsFreed(_ c: MemClass) throws {
    let d = c.domains()
    let op = try #require(d.malloc(.obj, UInt(PyObjectProbe.obTypeOffset(c.build))))
    op.storeBytes(of: 1, as: Int.self)
    #expect(d.objectIsFreed(op) == true)
  }

  /// Deviation, C heap only: CPython reads (and writes the refcount of) the freed glibc chunk; glibc leaves
  /// bytes 16… of a small tcache chunk alone, so CPython sees 0xDD there. The model does not touch memory
  /// glibc owns, so it keeps the chunk in a one-block quarantine to make the same read defined.
  @Test("test_pyobject_freed_is_freed: after tp_dealloc ob_type reads 0xDD…", arguments: MemClass.runnable)
  func freedIsFreed(_ c: MemClass) throws {
    let d = c.domains(quarantine: 1)
    let op = try #require(d.malloc(.obj, UInt(PyObjectProbe.objectHeaderSize(c.build))))  // object()
    op.storeBytes(of: 1, as: Int.self)
    // A live type pointer (free-threaded: ob_type after ob_tid and the refcount fields, at 24).
    (op + PyObjectProbe.obTypeOffset(c.build)).storeBytes(of: UInt(0x5555_0000_1234), as: UInt.self)
    #expect(d.objectIsFreed(op) == false)
    d.free(.obj, op)  // tp_dealloc → PyObject_Free
    op.storeBytes(of: 1, as: Int.self)  // Py_SET_REFCNT(op, 1) on freed memory, as the C helper does
    #expect(d.objectIsFreed(op) == true)
  }

  // MARK: set_nomemory

  @Test("test_set_nomemory: the n-th MemoryError comes within [10n − 4, 10n] iterations", arguments: MemClass.runnable)
  func setNomemory(_ c: MemClass) {
    let d = c.domains()
    var lines: [(outer: Int, j: Int)] = []
    /// `C()`: one object allocation, released at once (the instance is not kept).
    func instantiate() -> Bool {
      guard let object = d.malloc(.obj, 16) else { return false }
      d.free(.obj, object)
      return true
    }
    for outer in 1..<4 {
      let start = 10 * outer
      for j in 0..<100 {
        if j == 0 {
          if outer != 3 { d.setNoMemory(start: start) } else { d.setNoMemory(start: start, stop: start + 1) }
        }
        if !instantiate() {
          if outer != 3 { d.removeMemHooks() }
          lines.append((outer, j))
          d.removeMemHooks()
          break
        }
      }
    }
    #expect(lines.count == 3)
    for (i, line) in lines.enumerated() {
      #expect(line.outer == i + 1)
      #expect(line.j <= (i + 1) * 10 && line.j >= (i + 1) * 10 - 4, "line \(i + 1): MemoryError \(line.outer) \(line.j)")
    }
    #expect(d.currentAllocatorName() == c.expectedAllocatorName, "remove_mem_hooks restored the tables")
  }

  // MARK: _testcapi self-tests

  @Test("_testcapi.test_pymem_alloc0: all six entry points give non-NULL for 0 bytes", arguments: MemClass.runnable)
  func alloc0(_ c: MemClass) {
    let d = c.domains()
    for domain in PyMemDomain.allCases {
      let m = d.malloc(domain, 0)
      #expect(m != nil, "\(domain.functionPrefix)Malloc(0) returns NULL")
      d.free(domain, m)
      let z = d.calloc(domain, 0, 0)
      #expect(z != nil, "\(domain.functionPrefix)Calloc(0, 0) returns NULL")
      d.free(domain, z)
    }
  }

  @Test("test_pymem_setrawallocators / test_pymem_setallocators / test_pyobject_setallocators",
        arguments: MemClass.runnable, PyMemDomain.allCases)
  func setAllocators(_ c: MemClass, _ domain: PyMemDomain) throws {
    let d = c.domains()
    /// `alloc_hook_t`: the last call's arguments and context.
    final class Hook {
      var ctx: PyMemAllocatorTable?
      var mallocSize: UInt = 0, callocNelem: UInt = 0, callocElsize: UInt = 0, reallocNewSize: UInt = 0
      var reallocPtr: Int? = nil, freePtr: Int? = nil
    }
    let hook = Hook()
    let saved = d.getAllocator(domain)
    let table = PyMemAllocatorTable(name: "alloc_hook_t", forwardingTo: saved) { ctx, call in
      hook.ctx = ctx
      switch call {
      case .malloc(let n): hook.mallocSize = n
      case .calloc(let a, let b): (hook.callocNelem, hook.callocElsize) = (a, b)
      case .realloc(let p, let n): (hook.reallocPtr, hook.reallocNewSize) = (p, n)
      case .free(let p): hook.freePtr = p
      }
    }
    d.setAllocator(domain, table)
    defer { d.setAllocator(domain, saved) }

    let ptr = try #require(d.malloc(domain, 42), "malloc failed")
    #expect(hook.ctx === table, "malloc wrong context")
    hook.ctx = nil
    #expect(hook.mallocSize == 42, "malloc invalid size")
    let ptr2 = try #require(d.realloc(domain, ptr, 200), "realloc failed")
    #expect(hook.ctx === table, "realloc wrong context")
    hook.ctx = nil
    #expect(hook.reallocPtr == Int(bitPattern: ptr) && hook.reallocNewSize == 200, "realloc invalid parameters")
    d.free(domain, ptr2)
    #expect(hook.ctx === table, "free wrong context")
    hook.ctx = nil
    #expect(hook.freePtr == Int(bitPattern: ptr2), "free invalid pointer")
    let ptr3 = try #require(d.calloc(domain, 2, 5), "calloc failed")
    #expect(hook.ctx === table, "calloc wrong context")
    hook.ctx = nil
    #expect(hook.callocNelem == 2 && hook.callocElsize == 5, "calloc invalid nelem or elsize")
    hook.freePtr = nil
    d.free(domain, ptr3)
    #expect(hook.ctx === table, "calloc free wrong context")
    #expect(hook.freePtr == Int(bitPattern: ptr3), "calloc free invalid pointer")
  }
}
