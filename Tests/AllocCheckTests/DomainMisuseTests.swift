// DomainMisuseTests.swift — the misuse predictor (MisusePrediction.swift) against the debug hooks: every
// misuse kind, under every runnable debug configuration, domain, block kind (pool block or C heap, nested
// under pymalloc) and quarantine setting, is both predicted from the layout rules and performed on a real
// ``PyMemDomains``; the produced fatal line (or its absence, or a wild-read report) must be the predicted one.
import Testing

#if canImport(Glibc)
import Glibc
#endif

@testable import AllocUnderTest

private struct MisuseCase: Sendable, CustomTestStringConvertible {
  var configuration: String
  var domain: PyMemDomain
  var size: Int
  var quarantine: Int
  var misuse: Misuse
  var checkedBy: CheckingCall = .free
  var testDescription: String {
    "\(misuse) on \(domain) \(size) B under \(configuration)\(quarantine > 0 ? " +quarantine" : "") via \(checkedBy)"
  }
}

private func misuses(for domain: PyMemDomain) -> [Misuse] {
  [.writePastEnd(count: 1, byte: 0x78), .writePastEnd(count: 8, byte: 0xFD), .writePastEnd(count: 3, byte: 0xFD),
   .writeBeforeStart(count: 1, byte: 0x00), .writeBeforeStart(count: 7, byte: 0xFD),
   .writeBeforeStart(count: 8, byte: 0x41), .writeBeforeStart(count: 8, byte: UInt8(ascii: "m")),
   .writeBeforeStart(count: 16, byte: 0xEE), .writeAfterFree(offset: 0, byte: 0x11),
   .doubleFree, .reallocFreed(size: 32), .freeForeignPointer, .freeForeignInZeroedBuffer]
    + PyMemDomain.allCases.filter { $0 != domain }.map { .freeThroughWrongDomain($0) }
    + PyMemDomain.allCases.map { .mallocWithoutGIL($0) }
}

private let cases: [MisuseCase] = hookedConfigurations.flatMap { configuration in
  PyMemDomain.allCases.flatMap { domain in
    [16, 600].flatMap { size in
      [0, 4].flatMap { quarantine in
        misuses(for: domain).map {
          MisuseCase(configuration: configuration, domain: domain, size: size, quarantine: quarantine, misuse: $0)
        }
      }
    }
  }
} + [MisuseCase(configuration: "pymalloc_debug", domain: .obj, size: 16, quarantine: 0,
                misuse: .writePastEnd(count: 1, byte: 0), checkedBy: .realloc),
     MisuseCase(configuration: "malloc_debug", domain: .mem, size: 200, quarantine: 0,
                misuse: .writeBeforeStart(count: 3, byte: 1), checkedBy: .realloc)]

/// Performs the misuse; returns the fatal errors the hooks reported.
private func perform(_ c: MisuseCase, bugs: Set<DomainBug> = []) throws -> [PyFatalError] {
  let (d, recorder) = recordingDomains(c.configuration, options: PyMemOptions(mallocQuarantine: c.quarantine),
                                       bugs: bugs)
  let p = try #require(d.malloc(c.domain, UInt(c.size)))
  func check() {
    switch c.checkedBy {
    case .free: d.free(c.domain, p)
    case .realloc: if let q = d.realloc(c.domain, p, UInt(c.size + 1)) { d.free(c.domain, q) }
    }
  }
  switch c.misuse {
  case .writePastEnd(let count, let byte):
    domainPoke(p, c.size, Array(repeating: byte, count: count))
    check()
  case .writeBeforeStart(let count, let byte):
    domainPoke(p, -count, Array(repeating: byte, count: count))
    check()
  case .writeAfterFree(let offset, let byte):
    d.free(c.domain, p)
    domainPoke(p, offset, [byte])
    let again = d.malloc(c.domain, UInt(c.size))
    d.free(c.domain, again)
  case .doubleFree:
    d.free(c.domain, p)
    d.free(c.domain, p)
  case .reallocFreed(let size):
    d.free(c.domain, p)
    _ = d.realloc(c.domain, p, size)
  case .freeThroughWrongDomain(let other):
    d.free(other, p)
  case .freeForeignPointer:
    let foreign = Glibc.malloc(48)
    defer { Glibc.free(foreign) }
    d.free(c.domain, foreign)
  case .freeForeignInZeroedBuffer:
    let size = MisusePrediction.foreignBufferSize
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
    buffer.initializeMemory(as: UInt8.self, repeating: 0, count: size)
    defer { buffer.deallocate() }
    d.vouchReadable(Int(bitPattern: buffer)..<(Int(bitPattern: buffer) + size))
    d.free(c.domain, buffer + MisusePrediction.foreignOffset)
  case .mallocWithoutGIL(let domain):
    d.gilHeld = { false }
    let q = d.malloc(domain, 10)
    d.gilHeld = { true }
    d.free(domain, q)
  }
  return recorder.errors
}

@Suite("Domain misuse prediction")
struct DomainMisuseTests {
  @Test("the predicted outcome is the produced one", arguments: cases)
  private func predictionMatchesHooks(_ c: MisuseCase) throws {
    let subject = try MisuseSubject(domain: c.domain, size: c.size, configuration: c.configuration,
                                    mallocQuarantine: c.quarantine)
    let predicted = MisusePrediction.predict(c.misuse, on: subject, checkedBy: c.checkedBy)
    if case .outsideModel = predicted { return }  // not performed: it would depend on a neighbour's bytes
    let produced = try perform(c)
    switch predicted {
    case .undetected(let why):
      #expect(produced.isEmpty, "predicted undetected (\(why)), got \(produced.map(\.fatalLine))")
    case .fatal(let line, _, let dumpMayCrash):
      #expect(produced.map(\.fatalLine) == [line])
      if !dumpMayCrash { #expect(produced.first?.involvesWildRead == false) }
    case .wildRead:
      guard case .check(.wildRead)? = produced.first?.reason, produced.count == 1 else {
        Issue.record("predicted a wild read, got \(produced.map(\.fatalLine))")
        return
      }
    case .outsideModel:
      break
    }
  }

  @Test("the predictor is independent of the hooks: a seeded hook bug makes them disagree",
        arguments: [
          (DomainBug.idNotChecked, MisuseCase(configuration: "malloc_debug", domain: .mem, size: 16, quarantine: 0,
                                              misuse: .freeThroughWrongDomain(.raw))),
          (.leadingPadNotChecked, MisuseCase(configuration: "malloc_debug", domain: .obj, size: 16, quarantine: 0,
                                             misuse: .writeBeforeStart(count: 1, byte: 0))),
          (.trailingPadNotChecked, MisuseCase(configuration: "pymalloc_debug", domain: .mem, size: 16, quarantine: 0,
                                              misuse: .writePastEnd(count: 1, byte: 0x78))),
          (.padsCheckedBeforeID, MisuseCase(configuration: "debug", domain: .obj, size: 16, quarantine: 0,
                                            misuse: .writeBeforeStart(count: 8, byte: 0x41))),
          (.deadBytesNotWritten, MisuseCase(configuration: "pymalloc_debug", domain: .mem, size: 16, quarantine: 0,
                                            misuse: .doubleFree)),
          (.gilNotChecked, MisuseCase(configuration: "pymalloc_debug", domain: .mem, size: 16, quarantine: 0,
                                      misuse: .mallocWithoutGIL(.obj))),
        ])
  private func predictorCatchesHookBug(_ bug: DomainBug, _ c: MisuseCase) throws {
    let subject = try MisuseSubject(domain: c.domain, size: c.size, configuration: c.configuration)
    guard case .fatal(let line, _, _) = MisusePrediction.predict(c.misuse, on: subject) else {
      Issue.record("expected a predicted fatal line")
      return
    }
    #expect(try perform(c).map(\.fatalLine) == [line])
    #expect(try perform(c, bugs: [bug]).map(\.fatalLine) != [line], "\(bug.caughtBy) must disagree")
  }

  @Test("pymalloc hands the freed block out again: a double free is then caught only across domains")
  func reusedBlock() throws {
    for (owner, expected) in [(PyMemDomain.mem, nil),
                              (.obj, "Fatal Python error: _PyMem_DebugRawFree: bad ID: Allocated using API 'o', verified using API 'm'")]
    as [(PyMemDomain, String?)] {
      let (d, recorder) = recordingDomains("pymalloc_debug")
      let p = try #require(d.malloc(.mem, 16))
      d.free(.mem, p)
      let q = try #require(d.malloc(owner, 16))
      #expect(q == p, "LIFO reuse of the pool block")
      var subject = try MisuseSubject(domain: .mem, size: 16, configuration: "pymalloc_debug")
      subject.afterFree = .reused(by: owner)
      let predicted = MisusePrediction.predict(.doubleFree, on: subject)
      d.free(.mem, p)
      if let expected {
        #expect(predicted == .fatal(line: expected, at: .atMisuse, dumpMayCrash: false))
        #expect(recorder.lines == [expected])
      } else {
        guard case .undetected = predicted else { Issue.record("\(predicted)"); continue }
        #expect(recorder.errors.isEmpty)
      }
    }
  }

  @Test("without hooks nothing is detected (the predictor says so; nothing is performed)")
  func noHooks() throws {
    let subject = try MisuseSubject(domain: .mem, size: 16, configuration: "pymalloc")
    for misuse in misuses(for: .mem) {
      switch MisusePrediction.predict(misuse, on: subject) {
      case .undetected, .outsideModel: break
      default: Issue.record("\(misuse) predicted as detected without hooks")
      }
    }
  }

  @Test("the 3.14 free-threaded GIL text is predicted from the build")
  func freeThreadedGILText() {
    let subject = MisuseSubject(domain: .mem, size: 8, hookedDomains: Set(PyMemDomain.allCases), storage: .cHeap,
                                afterFree: .givenBack, build: PyBuild(version: .v3_14, pyDebug: true, freeThreaded: true))
    #expect(MisusePrediction.predict(.mallocWithoutGIL(.obj), on: subject) == .fatal(
      line: "Fatal Python error: _PyMem_DebugMalloc: Python memory allocator called without an active thread state. "
        + "Are you trying to call it inside of a Py_BEGIN_ALLOW_THREADS block?", at: .atMisuse, dumpMayCrash: false))
  }
}
