// DebugHookTests.swift — the debug hooks byte for byte: DH1 layout and fill bytes (including the [probe]
// observations of the spec §3.1/§3.3), DH2 the three checks, their order and their exact texts plus the
// `_PyObject_DebugDumpAddress` dump, DH3 the realloc erase/save/restore rules, DH4 the GIL check (MEM/OBJ
// only, per-version text), serial numbers, and the model's no-wild-reads rule (a value, never a crash).
import Testing

#if canImport(Glibc)
import Glibc
#endif

@testable import AllocUnderTest

private let fd: UInt8 = 0xFD
private let cd: UInt8 = 0xCD
private let dd: UInt8 = 0xDD

private func repeated(_ b: UInt8, _ n: Int) -> [UInt8] { Array(repeating: b, count: n) }

/// The header CPython writes for size `n` and id `id`.
private func header(_ n: Int, _ id: Character) -> [UInt8] { bigEndian(n) + [id.asciiValue!] + repeated(fd, 7) }

/// A domains instance whose wrapped allocator for every domain can be made to fail: "malloc", a failing
/// switch under the hooks, then `PyMem_SetupDebugHooks`.
private final class FailSwitch {
  var failNext = false
  func install(on domains: PyMemDomains) {
    for d in PyMemDomain.allCases {
      let inner = domains.getAllocator(d)
      domains.setAllocator(d, PyMemAllocatorTable(
        name: "fail switch", wrapping: inner,
        malloc: { [unowned self] _, n in self.take() ? nil : inner.malloc(n) },
        calloc: { [unowned self] _, c, n in self.take() ? nil : inner.calloc(c, n) },
        realloc: { [unowned self] _, p, n in self.take() ? nil : inner.realloc(p, n) },
        free: { _, p in inner.free(p) }))
    }
    domains.setupDebugHooks()
  }
  private func take() -> Bool {
    defer { failNext = false }
    return failNext
  }
}

@Suite("Debug hooks")
struct DebugHookTests {
  // MARK: DH1 layout and fills

  @Test("DH1: PyMem_Malloc(16) is size, 'm', 7×FD, 16×CD, 8×FD [probe]", arguments: hookedConfigurations)
  func mallocLayout(name: String) throws {
    let (domains, _) = recordingDomains(name)
    let p = try #require(domains.malloc(.mem, 16))
    #expect(domainPeek(p, -16, 40) == header(16, "m") + repeated(cd, 16) + repeated(fd, 8))
    domains.free(.mem, p)
  }

  @Test("DH1: calloc(3, 5) has size 0x0f and 15 zero bytes; malloc(0) is header + 8×FD [probe]",
        arguments: hookedConfigurations)
  func callocAndZero(name: String) throws {
    let (domains, _) = recordingDomains(name)
    let c = try #require(domains.calloc(.mem, 3, 5))
    #expect(domainPeek(c, -16, 39) == header(15, "m") + repeated(0, 15) + repeated(fd, 8))
    let z = try #require(domains.malloc(.mem, 0))
    #expect(domainPeek(z, -16, 24) == header(0, "m") + repeated(fd, 8))
    for d in PyMemDomain.allCases {
      let p = try #require(domains.malloc(d, 3))
      #expect(domainPeek(p, -8, 1) == [d.apiID])
      domains.free(d, p)
    }
    domains.free(.mem, c)
    domains.free(.mem, z)
  }

  @Test("DH1: free fills the whole block with 0xDD (pymalloc then stores its free-list link in b[0:8])")
  func freeFillsDead() throws {
    let (quarantined, _) = recordingDomains("malloc_debug", options: PyMemOptions(mallocQuarantine: 4))
    let p = try #require(quarantined.malloc(.mem, 40))
    quarantined.free(.mem, p)
    #expect(domainPeek(p, -16, 64) == repeated(dd, 64), "N + 24 bytes, header included")

    let (pymalloc, _) = recordingDomains("pymalloc_debug")
    let q = try #require(pymalloc.malloc(.obj, 40))
    pymalloc.free(.obj, q)
    #expect(domainPeek(q, -8, 56) == repeated(dd, 56))
  }

  @Test("DH1: the wrapped allocator is asked for N + 24 bytes, calloc as calloc(1, N + 24)")
  func wrappedSizes() throws {
    let domains = try PyMemDomains(allocator: "malloc")
    var seen: [PyMemCall] = []
    let old = domains.getAllocator(.obj)
    domains.setAllocator(.obj, PyMemAllocatorTable(name: "spy", forwardingTo: old) { seen.append($1) })
    domains.setupDebugHooks()
    let p = try #require(domains.malloc(.obj, 10))
    let c = try #require(domains.calloc(.obj, 4, 5))
    domains.free(.obj, p)
    domains.free(.obj, c)
    #expect(seen == [.malloc(34), .calloc(1, 44), .free(Int(bitPattern: p) - 16), .free(Int(bitPattern: c) - 16)])
  }

  // MARK: DH3 realloc

  @Test("DH3: realloc 8 → 20 keeps the 8 bytes, marks 12 new bytes clean, rewrites size and id [probe]",
        arguments: hookedConfigurations)
  func reallocGrow(name: String) throws {
    let (domains, _) = recordingDomains(name)
    let p = try #require(domains.malloc(.mem, 8))
    domainPoke(p, 0, repeated(0x41, 8))
    let q = try #require(domains.realloc(.mem, p, 20))
    #expect(domainPeek(q, -16, 44) == header(20, "m") + repeated(0x41, 8) + repeated(cd, 12) + repeated(fd, 8))
    domains.free(.mem, q)
  }

  @Test("DH3: big blocks keep every byte through grow and shrink (ends erased, saved and restored)",
        arguments: [(300, 400), (300, 250), (300, 200), (300, 100), (129, 700), (128, 64)])
  func reallocBigBlocksKeepData(old: Int, new: Int) throws {
    for name in hookedConfigurations {
      let (domains, recorder) = recordingDomains(name)
      let p = try #require(domains.malloc(.obj, UInt(old)))
      let pattern = (0..<old).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) }
      domainPoke(p, 0, pattern)
      let q = try #require(domains.realloc(.obj, p, UInt(new)))
      let kept = min(old, new)
      #expect(domainPeek(q, 0, kept) == Array(pattern.prefix(kept)), "\(name) \(old)→\(new)")
      if new > old { #expect(domainPeek(q, old, new - old) == repeated(cd, new - old)) }
      #expect(domainPeek(q, -16, 16) == header(new, "o"))
      #expect(domainPeek(q, new, 8) == repeated(fd, 8))
      domains.free(.obj, q)
      #expect(recorder.errors.isEmpty)
    }
  }

  @Test("DH3: a failed realloc leaves the block exactly as it was and returns nil", arguments: [100, 128, 129, 300])
  func reallocFailureRestores(size: Int) throws {
    let (domains, recorder) = recordingDomains("malloc")
    let fail = FailSwitch()
    fail.install(on: domains)
    let p = try #require(domains.malloc(.mem, UInt(size)))
    domainPoke(p, 0, (0..<size).map { UInt8(truncatingIfNeeded: $0) })
    let before = domainPeek(p, -16, size + 24)
    fail.failNext = true
    #expect(domains.realloc(.mem, p, 5000) == nil)
    #expect(domainPeek(p, -16, size + 24) == before)
    domains.free(.mem, p)
    #expect(recorder.errors.isEmpty)
  }

  @Test("DH3: shrinking in place leaves the erased old tail as 0xDD after the new trailer (pymalloc)")
  func shrinkInPlaceLeavesDead() throws {
    let (domains, _) = recordingDomains("pymalloc_debug")
    let p = try #require(domains.malloc(.obj, 100))  // 124 bytes → the 128-byte class
    let q = try #require(domains.realloc(.obj, p, 90))  // 114 > ¾·128: pymalloc keeps the block
    #expect(p == q)
    #expect(domainPeek(q, 90, 8) == repeated(fd, 8))
    #expect(domainPeek(q, 98, 10) == repeated(dd, 10), "old data 98..<100 and old trailer")
    domains.free(.obj, q)
  }

  @Test("DH3: free-threaded builds do not erase: modelled by the build flag")
  func freeThreadedDoesNotErase() {
    #expect(DebugHookSettings(build: .freeThreaded, serialNumbers: false, bugs: []).reallocErases == false)
    #expect(DebugHookSettings(build: .release, serialNumbers: false, bugs: []).reallocErases)
  }

  // MARK: DH2 checks and dump

  @Test("DH2: overrun → bad trailing pad byte, with CPython's exact dump", arguments: hookedConfigurations)
  func trailingPadDump(name: String) throws {
    let (domains, recorder) = recordingDomains(name)
    let p = try #require(domains.malloc(.mem, 16))
    domainPoke(p, 16, [UInt8(ascii: "x")])
    domains.free(.mem, p)
    let error = try #require(recorder.last)
    let tail = "0x" + String(UInt(bitPattern: p + 16), radix: 16)
    let expected = """
      Debug memory block at address p=0x\(String(UInt(bitPattern: p), radix: 16)): API 'm'
          16 bytes originally requested
          The 7 pad bytes at p-7 are FORBIDDENBYTE, as expected.
          The 8 pad bytes at tail=\(tail) are not all FORBIDDENBYTE (0xfd):
              at tail+0: 0x78 *** OUCH
              at tail+1: 0xfd
              at tail+2: 0xfd
              at tail+3: 0xfd
              at tail+4: 0xfd
              at tail+5: 0xfd
              at tail+6: 0xfd
              at tail+7: 0xfd
          Data at p: cd cd cd cd cd cd cd cd cd cd cd cd cd cd cd cd

      Enable tracemalloc to get the memory block allocation traceback


      """
    #expect(error.dump?.text == expected)
    #expect(error.fatalLine == "Fatal Python error: _PyMem_DebugRawFree: bad trailing pad byte")
    #expect(error.stderrText.hasSuffix("Fatal Python error: _PyMem_DebugRawFree: bad trailing pad byte\n"
      + "Python runtime state: initialized\n\n"))
    domainPoke(p, 16, [fd])
    domains.free(.mem, p)  // repaired: frees normally
    #expect(recorder.errors.count == 1)
  }

  @Test("DH2: underrun → bad leading pad byte, OUCH lines from p-7 to p-1 and the 'may be bogus' note")
  func leadingPadDump() throws {
    let (domains, recorder) = recordingDomains("malloc_debug")
    let p = try #require(domains.malloc(.obj, 20))
    domainPoke(p, -2, [0x00, 0x01])
    domains.free(.obj, p)
    let error = try #require(recorder.last)
    #expect(error.fatalLine == "Fatal Python error: _PyMem_DebugRawFree: bad leading pad byte")
    let lines = try #require(error.dump?.text).split(separator: "\n", omittingEmptySubsequences: false)
    #expect(Array(lines[1...12]) == [
      "    20 bytes originally requested",
      "    The 7 pad bytes at p-7 are not all FORBIDDENBYTE (0xfd):",
      "        at p-7: 0xfd", "        at p-6: 0xfd", "        at p-5: 0xfd", "        at p-4: 0xfd",
      "        at p-3: 0xfd", "        at p-2: 0x00 *** OUCH", "        at p-1: 0x01 *** OUCH",
      "    Because memory is corrupted at the start, the count of bytes requested",
      "       may be bogus, and checking the trailing pad bytes may segfault.",
      "    The 8 pad bytes at tail=0x\(String(UInt(bitPattern: p + 20), radix: 16)) are FORBIDDENBYTE, as expected.",
    ])
    #expect(lines[13] == "    Data at p: cd cd cd cd cd cd cd cd ... cd cd cd cd cd cd cd cd")
    domainPoke(p, -2, [fd, fd])
    domains.free(.obj, p)
  }

  @Test("DH2: the id is checked first, then the leading pad, then the trailing pad")
  func checkOrder() throws {
    let (domains, recorder) = recordingDomains("malloc_debug")
    let a = try #require(domains.malloc(.mem, 8))
    domainPoke(a, -8, [UInt8(ascii: "A"), 0])  // id and leading pad both bad
    domainPoke(a, 8, [0])  // and the trailing pad
    domains.free(.mem, a)
    let b = try #require(domains.malloc(.mem, 8))
    domainPoke(b, -1, [0])
    domainPoke(b, 8, [0])
    #expect(domains.realloc(.mem, b, 30) == nil)
    #expect(recorder.lines == [
      "Fatal Python error: _PyMem_DebugRawFree: bad ID: Allocated using API 'A', verified using API 'm'",
      "Fatal Python error: _PyMem_DebugRawRealloc: bad leading pad byte",
    ])
  }

  @Test("DH2: wrong domain → bad ID with both ids; every free reports _PyMem_DebugRawFree",
        arguments: [(PyMemDomain.mem, PyMemDomain.raw), (.mem, .obj), (.obj, .mem), (.raw, .obj)])
  func wrongDomain(allocated: PyMemDomain, freed: PyMemDomain) throws {
    let (domains, recorder) = recordingDomains("pymalloc_debug")
    let p = try #require(domains.malloc(allocated, 16))
    domains.free(freed, p)
    let a = Character(Unicode.Scalar(allocated.apiID)), f = Character(Unicode.Scalar(freed.apiID))
    #expect(recorder.lines == [
      "Fatal Python error: _PyMem_DebugRawFree: bad ID: Allocated using API '\(a)', verified using API '\(f)'"
    ])
    let dump = try #require(recorder.last?.dump?.text)
    #expect(dump.contains("The 8 pad bytes at tail=") && dump.contains("are FORBIDDENBYTE, as expected."))
    domains.free(allocated, p)
    #expect(recorder.errors.count == 1)
  }

  @Test("dump: 'Data at p' shows all bytes up to 16, else 8 … 8; N = 0 prints no data line")
  func dumpDataLine() throws {
    let (domains, recorder) = recordingDomains("malloc_debug")
    for (n, line) in [(3, "    Data at p: cd cd cd"), (17, "    Data at p: cd cd cd cd cd cd cd cd ... cd cd cd cd cd cd cd cd"),
                      (0, nil)] as [(UInt, String?)] {
      let p = try #require(domains.malloc(.raw, n))
      domains.free(.mem, p)
      let text = try #require(recorder.last?.dump?.text)
      let dataLines = text.split(separator: "\n").filter { $0.hasPrefix("    Data at p:") }.map(String.init)
      #expect(dataLines == (line.map { [$0] } ?? []), "N = \(n)")
      domains.free(.raw, p)
    }
  }

  // MARK: Wild reads are values

  @Test("double free under malloc_debug without quarantine: CPython reads glibc's memory; the model reports it")
  func doubleFreeWithoutQuarantine() throws {
    let (domains, recorder) = recordingDomains("malloc_debug")
    let p = try #require(domains.malloc(.mem, 16))
    domains.free(.mem, p)
    domains.free(.mem, p)
    let error = try #require(recorder.last)
    #expect(error.reason == .check(.wildRead(WildRead(address: Int(bitPattern: p) - 8, field: .apiID))))
    #expect(error.dump == nil && error.involvesWildRead)
  }

  @Test("double free of a quarantined block: bad ID 0xDD, a bogus size, and the dump stops before the tail")
  func doubleFreeQuarantined() throws {
    let (domains, recorder) = recordingDomains("malloc_debug", options: PyMemOptions(mallocQuarantine: 8))
    let p = try #require(domains.malloc(.mem, 16))
    domains.free(.mem, p)
    domains.free(.mem, p)
    let error = try #require(recorder.last)
    #expect(error.reason == .check(.badID(found: dd, expected: 0x6d)))
    #expect(error.fatalLine == "Fatal Python error: _PyMem_DebugRawFree: bad ID: Allocated using API '\u{FFFD}', verified using API 'm'")
    #expect(error.fatalLineBytes.contains(dd), "the id is printed raw with %c")
    let dump = try #require(error.dump)
    #expect(dump.text.contains("    15987178197214944733 bytes originally requested\n"))
    #expect(dump.text.contains("        at p-1: 0xdd *** OUCH\n"))
    #expect(dump.wildRead?.field == .trailingPad)
    #expect(error.stderrText.contains("[model: dump stopped: CPython would read the trailing pad bytes"))
  }

  @Test("double free under pymalloc_debug: the id byte is still 0xDD (pymalloc only writes b[0:8])")
  func doubleFreePymalloc() throws {
    let (domains, recorder) = recordingDomains("pymalloc_debug")
    let p = try #require(domains.malloc(.obj, 32))
    domains.free(.obj, p)
    domains.free(.obj, p)
    #expect(recorder.lines == [
      "Fatal Python error: _PyMem_DebugRawFree: bad ID: Allocated using API '\u{FFFD}', verified using API 'o'"
    ])
  }

  @Test("a foreign pointer is never read: the model reports where CPython would read")
  func foreignPointer() throws {
    let (domains, recorder) = recordingDomains("debug")
    let allocated = Glibc.malloc(64)
    let foreign = try #require(allocated)
    defer { Glibc.free(foreign) }
    domains.free(.raw, foreign)
    #expect(recorder.last?.reason == .check(.wildRead(WildRead(address: Int(bitPattern: foreign) - 8, field: .apiID))))
  }

  // MARK: DH4 GIL

  @Test("DH4: MEM and OBJ without the GIL are fatal in every entry point, with the function's name")
  func gilCheck() throws {
    let (domains, recorder) = recordingDomains("pymalloc_debug")
    let m = try #require(domains.malloc(.mem, 8))
    domains.gilHeld = { false }
    #expect(domains.malloc(.mem, 10) == nil)
    #expect(domains.calloc(.obj, 1, 10) == nil)
    #expect(domains.realloc(.mem, m, 10) == nil)
    domains.free(.obj, nil)
    let raw = try #require(domains.malloc(.raw, 10), "RAW needs no GIL")
    domains.free(.raw, raw)
    let text = "Python memory allocator called without holding the GIL"
    #expect(recorder.lines == ["_PyMem_DebugMalloc", "_PyMem_DebugCalloc", "_PyMem_DebugRealloc", "_PyMem_DebugFree"]
      .map { "Fatal Python error: \($0): \(text)" })
    #expect(recorder.errors.allSatisfy { $0.dump == nil })
    domains.gilHeld = { true }
    domains.free(.mem, m)
    #expect(recorder.errors.count == 4)
  }

  @Test("DH4: the message per version: 3.14 free-threaded asks for a thread state, the rest for the GIL")
  func gilMessages() {
    let gil = "Python memory allocator called without holding the GIL"
    #expect(DebugHookSettings.gilMessage(for: PyBuild(version: .v3_11)) == gil)
    #expect(DebugHookSettings.gilMessage(for: PyBuild(version: .v3_13, freeThreaded: true)) == gil)
    #expect(DebugHookSettings.gilMessage(for: PyBuild(version: .v3_14)) == gil)
    #expect(DebugHookSettings.gilMessage(for: PyBuild(version: .v3_14, freeThreaded: true))
      == "Python memory allocator called without an active thread state. "
      + "Are you trying to call it inside of a Py_BEGIN_ALLOW_THREADS block?")
  }

  @Test("without hooks nobody checks the GIL")
  func noHooksNoGILCheck() throws {
    let (domains, recorder) = recordingDomains("pymalloc")
    domains.gilHeld = { false }
    let p = try #require(domains.malloc(.mem, 10))
    domains.free(.mem, p)
    #expect(recorder.errors.isEmpty)
  }

  // MARK: Serial numbers (PYMEM_DEBUG_SERIALNO)

  @Test("serial numbers: N + 32 bytes, call # after the trailing pad, bumped by malloc and successful realloc")
  func serialNumbers() throws {
    let (domains, recorder) = recordingDomains("malloc_debug", options: PyMemOptions(serialNumbers: true))
    let a = try #require(domains.malloc(.mem, 4))
    let b = try #require(domains.calloc(.mem, 2, 2))
    #expect(domainPeek(a, 4, 16) == repeated(fd, 8) + bigEndian(1))
    #expect(domainPeek(b, 4, 16) == repeated(fd, 8) + bigEndian(2))
    let c = try #require(domains.realloc(.mem, a, 40))
    #expect(domainPeek(c, 40, 16) == repeated(fd, 8) + bigEndian(3))
    domainPoke(b, 4, [0])
    domains.free(.mem, b)
    #expect(recorder.last?.dump?.text.contains("    The block was made by call #2 to debug malloc/realloc.\n") == true)
    domainPoke(b, 4, [fd])
    domains.free(.mem, b)
    domains.free(.mem, c)
    #expect(domains.hookSettings.serialno == 3)
  }
}
