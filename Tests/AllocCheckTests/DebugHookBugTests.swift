// DebugHookBugTests.swift — the quality suite of the domains: every ``DomainBug`` is switched on alone and
// must change exactly the observable behaviour its check (``DomainBug/caughtBy``) looks at, while the same
// scenario without the bug shows CPython's behaviour. One scenario per bug; observations are short strings
// so a failure prints what changed.
import Testing

@testable import AllocUnderTest

private func hex(_ bytes: [UInt8]) -> String { bytes.map { hex2($0) }.joined() }
private let fdLine = String(repeating: "fd", count: 8)

/// A wrapped-allocator switch that makes the next realloc fail (see DebugHookTests for the pattern).
private final class NextReallocFails {
  var armed = false
  func install(on domains: PyMemDomains, _ domain: PyMemDomain) {
    let inner = domains.getAllocator(domain)
    domains.setAllocator(domain, PyMemAllocatorTable(
      name: "fail next realloc", wrapping: inner,
      malloc: { _, n in inner.malloc(n) }, calloc: { _, c, n in inner.calloc(c, n) },
      realloc: { [unowned self] _, p, n in
        if self.armed { self.armed = false; return nil }
        return inner.realloc(p, n)
      },
      free: { _, p in inner.free(p) }))
  }
}

/// What the scenario of `bug` shows with `bugs` switched on.
private func observe(_ bug: DomainBug, with bugs: Set<DomainBug>) throws -> [String] {
  switch bug {
  case .idNotChecked:  // test_api_misuse under malloc_debug (one C heap serves all domains: safe to free)
    let (d, r) = recordingDomains("malloc_debug", bugs: bugs)
    let p = try #require(d.malloc(.mem, 16))
    d.free(.raw, p)
    return r.lines
  case .leadingPadNotChecked, .trailingPadNotChecked, .padsCheckedBeforeID:
    let (d, r) = recordingDomains("malloc_debug", bugs: bugs)
    let p = try #require(d.malloc(.obj, 16))
    switch bug {
    case .leadingPadNotChecked: domainPoke(p, -1, [0])
    case .trailingPadNotChecked: domainPoke(p, 16, [UInt8(ascii: "x")])
    default: domainPoke(p, -8, [UInt8(ascii: "A"), 0])  // bad id and bad leading pad
    }
    d.free(.obj, p)
    return r.lines
  case .deadBytesNotWritten:
    let (d, _) = recordingDomains("malloc_debug", options: PyMemOptions(mallocQuarantine: 2), bugs: bugs)
    let p = try #require(d.malloc(.mem, 16))
    d.free(.mem, p)
    return [hex(domainPeek(p, -16, 40))]
  case .cleanBytesNotWritten, .callocFilledWithClean:  // fresh pymalloc arenas are zero-filled
    let (d, _) = recordingDomains("pymalloc_debug", bugs: bugs)
    let p = try #require(bug == .cleanBytesNotWritten ? d.malloc(.obj, 32) : d.calloc(.obj, 4, 8))
    return [hex(domainPeek(p, 0, 32))]
  case .sizeLittleEndian:
    let (d, _) = recordingDomains("pymalloc_debug", bugs: bugs)
    let p = try #require(d.malloc(.mem, 16))
    return [hex(domainPeek(p, -16, 8))]
  case .shortTrailingPad:
    let (d, r) = recordingDomains("pymalloc_debug", bugs: bugs)
    let p = try #require(d.malloc(.obj, 16))
    let pad = hex(domainPeek(p, 16, 8))
    d.free(.obj, p)
    return [pad] + r.lines
  case .serialNotBumped:
    let (d, _) = recordingDomains("malloc_debug", options: PyMemOptions(serialNumbers: true), bugs: bugs)
    let a = try #require(d.malloc(.mem, 1))
    let b = try #require(d.malloc(.mem, 1))
    return [hex(domainPeek(a, 9, 8)), hex(domainPeek(b, 9, 8))]
  case .reallocNotRestoredOnFailure:
    let (d, r) = recordingDomains("malloc", bugs: bugs)
    let failing = NextReallocFails()
    failing.install(on: d, .mem)
    d.setupDebugHooks()
    let p = try #require(d.malloc(.mem, 8))
    domainPoke(p, 0, Array(repeating: 0x41, count: 8))
    failing.armed = true
    let moved = d.realloc(.mem, p, 4096)
    return ["\(moved == nil)", hex(domainPeek(p, -16, 32))] + r.lines
  case .reallocGrowthNotClean:
    let (d, _) = recordingDomains("pymalloc_debug", bugs: bugs)
    let p = try #require(d.malloc(.obj, 8))
    let q = try #require(d.realloc(.obj, p, 20))
    return [hex(domainPeek(q, 8, 12))]
  case .gilNotChecked, .gilCheckedOnRaw:
    let (d, r) = recordingDomains("pymalloc_debug", bugs: bugs)
    d.gilHeld = { false }
    let domain: PyMemDomain = bug == .gilNotChecked ? .mem : .raw
    let p = d.malloc(domain, 10)
    return ["\(p != nil)"] + r.lines
  case .pymallocFallbackBypassesRaw:
    let d = try PyMemDomains(allocator: "debug", bugs: bugs)
    var seen: [PyMemCall] = []
    let raw = d.getAllocator(.raw)
    d.setAllocator(.raw, PyMemAllocatorTable(name: "spy", forwardingTo: raw) { seen.append($1) })
    let p = try #require(d.malloc(.mem, 1000))
    d.setAllocator(.raw, raw)
    return seen.map { "\($0)" } + [hex(domainPeek(p, -16, 9))]
  case .hooksInstalledTwice:
    let (d, _) = recordingDomains("pymalloc_debug", bugs: bugs)
    d.setupDebugHooks()
    let p = try #require(d.malloc(.mem, 16))
    // The block's own header, and whether MEM holds the one debug context or a second hook around it.
    return ["\(d.getAllocator(.mem) === d.debugContext(.mem))", hex(domainPeek(p, -16, 9))]
  case .rawSizeZeroNotOne:
    let system = RecordingRawAllocator()
    let d = try PyMemDomains(allocator: "malloc", system: system, bugs: bugs)
    let p = d.malloc(.raw, 0)
    d.free(.raw, p)
    return system.calls.map { "\($0)" }
  case .oversizeNotRejected:
    let d = try PyMemDomains(allocator: "malloc", bugs: bugs)
    var seen: [PyMemCall] = []
    let raw = d.getAllocator(.raw)
    d.setAllocator(.raw, PyMemAllocatorTable(name: "spy", forwardingTo: raw) { seen.append($1) })
    let p = d.malloc(.raw, UInt(Int.max) + 1)
    return ["\(p == nil)"] + seen.map { "\($0)" }
  }
}

/// What each scenario shows without any bug: CPython's behaviour.
private func expectedClean(_ bug: DomainBug) -> [String] {
  let trailing = "Fatal Python error: _PyMem_DebugRawFree: bad trailing pad byte"
  switch bug {
  case .idNotChecked:
    return ["Fatal Python error: _PyMem_DebugRawFree: bad ID: Allocated using API 'm', verified using API 'r'"]
  case .leadingPadNotChecked: return ["Fatal Python error: _PyMem_DebugRawFree: bad leading pad byte"]
  case .trailingPadNotChecked: return [trailing]
  case .padsCheckedBeforeID:
    return ["Fatal Python error: _PyMem_DebugRawFree: bad ID: Allocated using API 'A', verified using API 'o'"]
  case .deadBytesNotWritten: return [String(repeating: "dd", count: 40)]
  case .cleanBytesNotWritten: return [String(repeating: "cd", count: 32)]
  case .callocFilledWithClean: return [String(repeating: "00", count: 32)]
  case .sizeLittleEndian: return ["0000000000000010"]
  case .shortTrailingPad: return [fdLine]
  case .serialNotBumped: return ["0000000000000001", "0000000000000002"]
  case .reallocNotRestoredOnFailure:
    return ["true", "0000000000000008" + "6d" + "fdfdfdfdfdfdfd" + "4141414141414141" + fdLine]
  case .reallocGrowthNotClean: return [String(repeating: "cd", count: 12)]
  case .gilNotChecked:
    return ["false", "Fatal Python error: _PyMem_DebugMalloc: Python memory allocator called without holding the GIL"]
  case .gilCheckedOnRaw: return ["true"]
  case .pymallocFallbackBypassesRaw: return ["malloc(1024)", "00000000000003e86d"]
  case .hooksInstalledTwice: return ["true", "00000000000000106d"]
  case .rawSizeZeroNotOne: return ["malloc(1)", "free"]
  case .oversizeNotRejected: return ["true"]
  }
}

@Suite("Domain seeded bugs")
struct DebugHookBugTests {
  @Test("each seeded bug changes what its check observes; without it the scenario shows CPython's behaviour",
        arguments: DomainBug.allCases)
  func bugIsObservable(_ bug: DomainBug) throws {
    let clean = try observe(bug, with: [])
    #expect(clean == expectedClean(bug), "\(bug.caughtBy) scenario without the bug")
    let broken = try observe(bug, with: [bug])
    #expect(broken != clean, "\(bug.rawValue) must be visible to \(bug.caughtBy): \(broken)")
  }

  @Test("every bug names one of the documented checks")
  func checkIDs() {
    let ids = ["DH1", "DH2", "DH3", "DH4", "DH5", "DH6", "DM1", "DM2"]
    for bug in DomainBug.allCases {
      #expect(ids.contains(String(bug.caughtBy.prefix(3))), "\(bug): \(bug.caughtBy)")
    }
  }
}
