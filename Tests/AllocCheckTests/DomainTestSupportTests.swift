// DomainTestSupportTests.swift — helpers shared by the Domain*, DebugHook* and TestMemParity test files
// (it holds no tests; the name fits the file pattern of the domains branch): byte peeks and pokes, a fatal
// error recorder, a system allocator that records what reaches C, and a stand-in mimalloc provider used
// only to show the plug-in path (it is C malloc with mimalloc's identity, not mimalloc).
import Testing

@testable import AllocUnderTest

/// `count` bytes at `p + offset`.
func domainPeek(_ p: UnsafeMutableRawPointer, _ offset: Int, _ count: Int) -> [UInt8] {
  Array(UnsafeRawBufferPointer(start: p + offset, count: count))
}

/// Writes `bytes` at `p + offset`.
func domainPoke(_ p: UnsafeMutableRawPointer, _ offset: Int, _ bytes: [UInt8]) {
  for (i, b) in bytes.enumerated() { (p + offset + i).storeBytes(of: b, as: UInt8.self) }
}

/// Eight bytes of a big-endian size.
func bigEndian(_ n: Int) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * (7 - $0))) } }

/// Collects fatal errors instead of aborting.
final class FatalRecorder {
  var errors: [PyFatalError] = []
  var last: PyFatalError? { errors.last }
  var lines: [String] { errors.map(\.fatalLine) }
  func install(on domains: PyMemDomains) { domains.onFatal = { self.errors.append($0) } }
}

/// A `PyMemDomains` for `name` with a recorder installed; traps on a configuration error.
func recordingDomains(_ name: String, build: PyBuild = .release, options: PyMemOptions = PyMemOptions(),
                      system: RawAllocator = SystemRawAllocator(), bugs: Set<DomainBug> = [])
  -> (PyMemDomains, FatalRecorder) {
  let domains = try! PyMemDomains(build: build, allocator: name, options: options, system: system, bugs: bugs)
  let recorder = FatalRecorder()
  recorder.install(on: domains)
  return (domains, recorder)
}

/// The debug configurations of test_mem.py's class matrix that this package can run.
let hookedConfigurations = ["debug", "malloc_debug", "pymalloc_debug"]

/// glibc behind a log of what reached it.
final class RecordingRawAllocator: RawAllocator {
  enum Call: Equatable {
    case malloc(Int)
    case calloc(Int, Int)
    case realloc(Int)
    case free
  }
  let inner = SystemRawAllocator()
  var calls: [Call] = []
  var faults: FaultInjector { inner.faults }
  var liveBlocks: Int { inner.liveBlocks }
  func malloc(_ size: Int) -> UnsafeMutableRawPointer? {
    calls.append(.malloc(size))
    return inner.malloc(size)
  }
  func calloc(_ count: Int, _ size: Int) -> UnsafeMutableRawPointer? {
    calls.append(.calloc(count, size))
    return inner.calloc(count, size)
  }
  func realloc(_ p: UnsafeMutableRawPointer?, _ size: Int) -> UnsafeMutableRawPointer? {
    calls.append(.realloc(size))
    return inner.realloc(p, size)
  }
  func free(_ p: UnsafeMutableRawPointer?) {
    if p != nil { calls.append(.free) }
    inner.free(p)
  }
  func usableSize(_ p: UnsafeMutableRawPointer) -> Int { inner.usableSize(p) }
}

/// Only for the plug-in test: C malloc dressed up with mimalloc's identities.
final class StandInMimallocProvider: MimallocBackingProvider {
  final class Backing: BlockAllocator {
    let heap: MimallocHeap
    let malloc: MallocBacking
    init(heap: MimallocHeap, system: RawAllocator) {
      self.heap = heap
      malloc = MallocBacking(system: system)
    }
    var identity: AllocatorIdentity { heap == .mem ? .mimalloc : .mimallocObject }
    func malloc(_ size: UInt) -> UnsafeMutableRawPointer? { malloc.malloc(size) }
    func calloc(_ nelem: UInt, _ elsize: UInt) -> UnsafeMutableRawPointer? { malloc.calloc(nelem, elsize) }
    func realloc(_ p: UnsafeMutableRawPointer?, _ size: UInt) -> UnsafeMutableRawPointer? {
      malloc.realloc(p, size)
    }
    func free(_ p: UnsafeMutableRawPointer?) { malloc.free(p) }
    func usableSize(_ p: UnsafeMutableRawPointer) -> Int { malloc.usableSize(p) }
    func readableRange(around address: Int) -> Range<Int>? { malloc.readableRange(around: address) }
  }
  var asked: [MimallocHeap] = []
  func backing(for heap: MimallocHeap, build: PyBuild, raw: RawAllocator) -> any BlockAllocator {
    asked.append(heap)
    return Backing(heap: heap, system: SystemRawAllocator())
  }
}
