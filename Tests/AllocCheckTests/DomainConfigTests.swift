// DomainConfigTests.swift — the PyMem domains' configuration: every PYTHONMALLOC name under every build
// kind (allocator table of Objects/obmalloc.c and Doc/c-api/memory.rst), the unknown-name and
// "backing not available yet" errors, `_PyMem_GetCurrentAllocatorName`, `PyMem_SetupDebugHooks`,
// Get/SetAllocator, the public wrappers' size rules (DM1, DM2) and pymalloc's fallback through RAW (DH5).
import Testing

@testable import AllocUnderTest

private let py311 = PyBuild(version: .v3_11)
private let noPymalloc = PyBuild(withPymalloc: false)

/// One row of the name × build table: the plan, then the allocator name CPython would report (nil =
/// this configuration cannot run here, see `error`).
private struct NameCase: Sendable, CustomTestStringConvertible {
  var name: String
  var build: PyBuild
  var plan: DomainPlan?
  var reported: String?
  var error: PyMemConfigError?
  var testDescription: String { "PYTHONMALLOC=\(name.isEmpty ? "(unset)" : name) on \(build)" }
}

private let pyPlain = DomainPlan(raw: .malloc, mem: .pymalloc, obj: .pymalloc, debugHooks: false)
private let pyHooked = DomainPlan(raw: .malloc, mem: .pymalloc, obj: .pymalloc, debugHooks: true)
private let cPlain = DomainPlan(raw: .malloc, mem: .malloc, obj: .malloc, debugHooks: false)
private let cHooked = DomainPlan(raw: .malloc, mem: .malloc, obj: .malloc, debugHooks: true)
private let miPlain = DomainPlan(raw: .malloc, mem: .mimalloc(.mem), obj: .mimalloc(.object), debugHooks: false)
private let miHooked = DomainPlan(raw: .malloc, mem: .mimalloc(.mem), obj: .mimalloc(.object), debugHooks: true)

private func ok(_ name: String, _ build: PyBuild, _ plan: DomainPlan, _ reported: String) -> NameCase {
  NameCase(name: name, build: build, plan: plan, reported: reported)
}
private func waiting(_ name: String, _ build: PyBuild, _ plan: DomainPlan) -> NameCase {
  NameCase(name: name, build: build, plan: plan, reported: plan.debugHooks ? "mimalloc_debug" : "mimalloc",
           error: .backingNotAvailable(name: name.isEmpty ? "default" : name, backing: .mimalloc(.mem)))
}
private func unknown(_ name: String, _ build: PyBuild) -> NameCase {
  NameCase(name: name, build: build, error: .unknownAllocator(name))
}

private let nameTable: [NameCase] = [
  // Release GIL build (3.13): the "pymalloc" row of the documented table.
  ok("", .release, pyPlain, "pymalloc"), ok("default", .release, pyPlain, "pymalloc"),
  ok("debug", .release, pyHooked, "pymalloc_debug"),
  ok("malloc", .release, cPlain, "malloc"), ok("malloc_debug", .release, cHooked, "malloc_debug"),
  ok("pymalloc", .release, pyPlain, "pymalloc"), ok("pymalloc_debug", .release, pyHooked, "pymalloc_debug"),
  waiting("mimalloc", .release, miPlain), waiting("mimalloc_debug", .release, miHooked),
  unknown("bogus", .release), unknown("PYMALLOC", .release),
  // Py_DEBUG GIL build: the default carries the hooks ("pymalloc_debug" row).
  ok("", .debug, pyHooked, "pymalloc_debug"), ok("default", .debug, pyHooked, "pymalloc_debug"),
  ok("debug", .debug, pyHooked, "pymalloc_debug"), ok("pymalloc", .debug, pyPlain, "pymalloc"),
  ok("malloc", .debug, cPlain, "malloc"), ok("malloc_debug", .debug, cHooked, "malloc_debug"),
  waiting("mimalloc_debug", .debug, miHooked),
  // Free-threaded: MEM/OBJ are mimalloc; malloc and pymalloc names are startup errors.
  waiting("", .freeThreaded, miPlain), waiting("default", .freeThreaded, miPlain),
  waiting("debug", .freeThreaded, miHooked), waiting("mimalloc", .freeThreaded, miPlain),
  waiting("mimalloc_debug", .freeThreaded, miHooked),
  unknown("malloc", .freeThreaded), unknown("malloc_debug", .freeThreaded),
  unknown("pymalloc", .freeThreaded), unknown("pymalloc_debug", .freeThreaded),
  waiting("", .freeThreadedDebug, miHooked), waiting("default", .freeThreadedDebug, miHooked),
  unknown("pymalloc_debug", .freeThreadedDebug), unknown("malloc_debug", .freeThreadedDebug),
  // 3.11 has no mimalloc at all [probe in the spec: PYTHONMALLOC=mimalloc is an unknown allocator].
  ok("", py311, pyPlain, "pymalloc"), ok("debug", py311, pyHooked, "pymalloc_debug"),
  unknown("mimalloc", py311), unknown("mimalloc_debug", py311),
  // --without-pymalloc: the "malloc" rows; pymalloc names are unknown.
  ok("", noPymalloc, cPlain, "malloc"), ok("debug", noPymalloc, cHooked, "malloc_debug"),
  unknown("pymalloc", noPymalloc), unknown("pymalloc_debug", noPymalloc),
]

@Suite("Domain configuration")
struct DomainConfigTests {
  @Test("every PYTHONMALLOC name maps to CPython's allocator table, name and errors", arguments: nameTable)
  private func nameTableRow(_ row: NameCase) throws {
    if let plan = row.plan {
      #expect(try DomainPlan.plan(for: row.name, build: row.build) == plan)
    }
    do {
      let domains = try PyMemDomains(build: row.build, allocator: row.name)
      #expect(row.error == nil, "expected \(String(describing: row.error))")
      #expect(domains.currentAllocatorName() == row.reported)
      #expect(domains.debugEnabled == row.plan?.debugHooks)
    } catch {
      #expect(error == row.error)
    }
  }

  @Test("with the reference mimalloc plugged in, the mimalloc rows install it and report its name",
        arguments: nameTable)
  private func nameTableRowWithReferenceMimalloc(_ row: NameCase) throws {
    let provider = ReferenceMimallocProvider()
    let domains: PyMemDomains
    do {
      domains = try PyMemDomains(build: row.build, allocator: row.name, mimalloc: provider)
    } catch {
      #expect(error == row.error)
      if case .backingNotAvailable? = row.error { Issue.record("the provider was given, yet: \(error)") }
      return
    }
    guard case .backingNotAvailable? = row.error else {
      #expect(row.error == nil, "expected \(String(describing: row.error))")
      #expect(domains.currentAllocatorName() == row.reported)
      return
    }
    #expect(domains.currentAllocatorName() == row.reported)
    #expect(domains.debugEnabled == row.plan?.debugHooks)
    for domain in [PyMemDomain.mem, .obj] {
      let p = try #require(domains.malloc(domain, 100))
      #expect(provider.mimalloc.owns(Int(bitPattern: p)), "\(domain) block is not in a mimalloc page")
      domains.free(domain, p)
    }
    let r = try #require(domains.malloc(.raw, 100))
    #expect(!provider.mimalloc.owns(Int(bitPattern: r)), "RAW stays C malloc in 3.13/3.14")
    domains.free(.raw, r)
  }

  @Test("an unknown name is reported with preconfig_init_allocator's exact text")
  func unknownNameText() {
    #expect(throws: PyMemConfigError.unknownAllocator("bogus")) { try PyMemDomains(allocator: "bogus") }
    #expect(PyMemConfigError.unknownAllocator("bogus").description
      == "Fatal Python error: preconfig_init_allocator: PYTHONMALLOC: unknown allocator")
  }

  @Test("mimalloc names are accepted by the table but fail explicitly until a backing is plugged in")
  func mimallocNotAvailableYet() throws {
    let error = PyMemConfigError.backingNotAvailable(name: "mimalloc_debug", backing: .mimalloc(.mem))
    #expect(throws: error) { try PyMemDomains(allocator: "mimalloc_debug") }
    #expect(error.description.contains("not available yet"))
    // A failed switch changes nothing.
    let domains = try PyMemDomains(allocator: "pymalloc")
    #expect(throws: PyMemConfigError.self) { try domains.setupAllocators("mimalloc") }
    #expect(domains.currentAllocatorName() == "pymalloc")
  }

  @Test("the plug-in path: with a provider, mimalloc names install it (stand-in backing, not mimalloc)")
  func mimallocProviderPlugsIn() throws {
    let provider = StandInMimallocProvider()
    let domains = try PyMemDomains(build: .freeThreaded, allocator: "mimalloc_debug", mimalloc: provider)
    #expect(provider.asked == [.mem, .object])
    #expect(domains.currentAllocatorName() == "mimalloc_debug")
    let p = try #require(domains.malloc(.obj, 24))
    #expect(domainPeek(p, -8, 1) == [UInt8(ascii: "o")])
    domains.free(.obj, p)
  }

  @Test("setupDebugHooks wraps each domain once, keeps the old table, and names follow")
  func setupDebugHooksOnce() throws {
    let domains = try PyMemDomains(allocator: "pymalloc")
    domains.setupDebugHooks()
    #expect(domains.currentAllocatorName() == "pymalloc_debug")
    #expect(domains.debugContext(.mem).wrapped.identity == .pymalloc)
    domains.setupDebugHooks()  // already hooked: nothing changes
    #expect(domains.getAllocator(.mem) === domains.debugContext(.mem))
    #expect(domains.debugContext(.mem).wrapped.identity == .pymalloc)
    let p = try #require(domains.malloc(.mem, 16))
    #expect(domainPeek(p, -16, 16) == bigEndian(16) + [0x6d] + Array(repeating: 0xFD, count: 7))
    domains.free(.mem, p)
  }

  @Test("reset returns the domains to a fresh state: tables, hooks, serials, pymalloc and the C heap, under a new name")
  func resetIsFresh() throws {
    let system = SystemRawAllocator()
    let domains = try PyMemDomains(allocator: "pymalloc_debug", options: PyMemOptions(serialNumbers: true, mallocQuarantine: 4),
                                   system: system)
    // Left live, as by a run that stopped at a fatal error: a pool block and a C-heap block.
    _ = try #require(domains.malloc(.obj, 16))
    _ = try #require(domains.malloc(.raw, 32))
    let q = try #require(domains.malloc(.mem, 600))  // pymalloc's fallback through RAW
    domains.free(.mem, q)  // quarantined
    domains.setNoMemory(start: 0)
    domains.vouchReadable(0x1000..<0x2000)
    #expect(domains.hookSettings.serialno > 0 && domains.pymallocBacking!.pymalloc.stats().arenasCurrent == 1)

    try domains.reset(allocator: "malloc")
    #expect(domains.currentAllocatorName() == "malloc" && !domains.debugEnabled)
    #expect(domains.hookSettings.serialno == 0 && domains.noMemoryCount == 0 && domains.readableRange(around: 0x1800) == nil)
    #expect(domains.mallocBacking.liveBlocks == 0)
    let pymalloc = domains.pymallocBacking!.pymalloc
    #expect(pymalloc.stats().arenasCurrent == 0 && pymalloc.stats().arenasAllocatedTotal == 0 && pymalloc.arenaMap.midNodes.isEmpty && pymalloc.arenaMap.spareCount == 0,
            "radix nodes go back through the RAW table that made them, none kept for a table that may differ")
    #expect(system.liveBlocks == 1, "the C-heap block left live is forgotten, not freed; the quarantine and the nodes went back")

    try domains.reset(allocator: "pymalloc_debug")
    #expect(domains.currentAllocatorName() == "pymalloc_debug")
    let p = try #require(domains.malloc(.obj, 16))
    let fresh = try PyMemDomains(allocator: "pymalloc_debug", options: PyMemOptions(serialNumbers: true, mallocQuarantine: 4))
    let q0 = try #require(fresh.malloc(.obj, 16))
    #expect(domains.hookSettings.serialno == fresh.hookSettings.serialno, "serial numbers start over (radix nodes included)")
    domains.free(.obj, p)
    fresh.free(.obj, q0)
    #expect(domains.getAllocator(.mem) === domains.debugContext(.mem) && domains.debugContext(.mem).wrapped.identity == .pymalloc)
  }

  @Test("a user hook makes the name unknown (nil), like tracemalloc; restoring brings it back")
  func userHookHidesName() throws {
    let domains = try PyMemDomains(allocator: "pymalloc_debug")
    let old = domains.getAllocator(.obj)
    domains.setAllocator(.obj, PyMemAllocatorTable(name: "hook", forwardingTo: old) { _, _ in })
    #expect(domains.currentAllocatorName() == nil)
    domains.setAllocator(.obj, old)
    #expect(domains.currentAllocatorName() == "pymalloc_debug")
  }

  // MARK: DM1 / DM2

  @Test("DM1: RAW asks C for 1 byte on malloc(0) and realloc(p, 0), for calloc(1, 1) on a zero argument")
  func rawSizeZeroRules() throws {
    let system = RecordingRawAllocator()
    let domains = try PyMemDomains(allocator: "malloc", system: system)
    let a = try #require(domains.malloc(.raw, 0))
    let b = try #require(domains.calloc(.raw, 0, 7))
    let c = try #require(domains.calloc(.raw, 7, 0))
    let d = try #require(domains.realloc(.raw, a, 0))
    #expect(system.calls == [.malloc(1), .calloc(1, 1), .calloc(1, 1), .realloc(1)])
    for p in [b, c, d] { domains.free(.raw, p) }
  }

  @Test("DM2: sizes above PY_SSIZE_T_MAX give nil in every domain before any allocator is called",
        arguments: ["malloc", "pymalloc", "debug"])
  func oversizeIsNil(name: String) throws {
    let domains = try PyMemDomains(allocator: name)
    let huge = UInt(Int.max) + 1
    for d in PyMemDomain.allCases {
      var seen: [PyMemCall] = []
      let old = domains.getAllocator(d)
      domains.setAllocator(d, PyMemAllocatorTable(name: "spy", forwardingTo: old) { seen.append($1) })
      #expect(domains.malloc(d, huge) == nil)
      #expect(domains.calloc(d, 2, huge / 2) == nil)
      #expect(domains.calloc(d, huge / 2, 2) == nil)
      let p = try #require(domains.malloc(d, 8))
      #expect(domains.realloc(d, p, huge) == nil)
      domains.free(d, p)
      #expect(seen == [.malloc(8), .free(Int(bitPattern: p))], "\(d): \(seen)")
      domains.setAllocator(d, old)
    }
  }

  @Test("the debug hooks refuse N > PY_SSIZE_T_MAX − 24 themselves, without calling the wrapped allocator")
  func debugHookOwnLimit() throws {
    let domains = try PyMemDomains(allocator: "malloc_debug")
    #expect(domains.malloc(.mem, UInt(Int.max) - 10) == nil)
    #expect(domains.calloc(.raw, 1, UInt(Int.max) - 23) == nil)
  }

  // MARK: DH5 — pymalloc's fallback goes through the RAW domain

  @Test("DH5: under debug, PyMem_Malloc(1000) carries an 'r' header around the 'm' header (spec §3.7)")
  func bigMemRequestHasTwoHeaders() throws {
    let domains = try PyMemDomains(allocator: "debug")
    let p = try #require(domains.malloc(.mem, 1000))
    #expect(domainPeek(p, -32, 32) == bigEndian(1024) + [0x72] + Array(repeating: 0xFD, count: 7)
      + bigEndian(1000) + [0x6d] + Array(repeating: 0xFD, count: 7))
    #expect(domainPeek(p, 1000, 16) == Array(repeating: 0xFD, count: 16))
    #expect(domains.pymallocBacking!.pymalloc.owns(Int(bitPattern: p)) == false)
    domains.free(.mem, p)
  }

  @Test("DH5: PyObject_Malloc(489) nests (outer size 0x201); 488 (total 512) is one pymalloc block")
  func nestingThreshold() throws {
    let domains = try PyMemDomains(allocator: "pymalloc_debug")
    let big = try #require(domains.malloc(.obj, 489))
    let small = try #require(domains.malloc(.obj, 488))
    #expect(domainPeek(big, -32, 9) == bigEndian(0x201) + [0x72])
    #expect(domains.pymallocBacking!.pymalloc.owns(Int(bitPattern: small)))
    #expect(domainPeek(small, -16, 9) == bigEndian(488) + [0x6f])
    #expect(Int(bitPattern: small) % 16 == 0, "16-aligned under pymalloc")
    domains.free(.obj, big)
    domains.free(.obj, small)
  }

  @Test("DH5: PyMem_Malloc(0) goes to RAW without hooks; with hooks N + 24 = 24 bytes is a pool block")
  func zeroByteMem() throws {
    let domains = try PyMemDomains(allocator: "pymalloc")
    let p = try #require(domains.malloc(.mem, 0))
    #expect(domains.pymallocBacking!.pymalloc.owns(Int(bitPattern: p)) == false)
    domains.free(.mem, p)
    let hooked = try PyMemDomains(allocator: "pymalloc_debug")
    let q = try #require(hooked.malloc(.mem, 0))
    #expect(hooked.pymallocBacking!.pymalloc.owns(Int(bitPattern: q)), "N + 24 = 24 bytes: a pool block")
    hooked.free(.mem, q)
  }

  @Test("the RAW domain is what pymalloc calls: a hook on RAW sees MEM's big requests")
  func rawHookSeesFallback() throws {
    let domains = try PyMemDomains(allocator: "pymalloc")
    var seen: [PyMemCall] = []
    let old = domains.getAllocator(.raw)
    domains.setAllocator(.raw, PyMemAllocatorTable(name: "spy", forwardingTo: old) { seen.append($1) })
    let p = try #require(domains.malloc(.mem, 600))
    domains.free(.mem, p)
    #expect(seen.first == .malloc(600))
    #expect(seen.last == .free(Int(bitPattern: p)))
    domains.setAllocator(.raw, old)
  }
}
