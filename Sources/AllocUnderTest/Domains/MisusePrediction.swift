// MisusePrediction.swift — the oracle's side of misuse ops: given a block's situation and a misuse, say
// whether CPython's debug hooks would catch it and with which exact fatal line, reasoning only from the
// documented layout and rules (spec §3.1–§3.6; Objects/obmalloc.c `_PyMem_DebugCheckAddress`), never by
// calling the hook implementation, so the two can be compared. Entry point:
// ``MisusePrediction/predict(_:on:checkedBy:)``. Pure values; the reasoning for each case is written next to
// it. Detection is heuristic in CPython, and so are these answers: they say when memory nobody vouches for
// would be read (``MisuseOutcome/wildRead(_:)``) and when a case is beyond this model.

/// A misuse the harness can apply to one block `p` of `N` bytes.
public enum Misuse: Sendable, Hashable, Codable {
  /// `p[N ..< N+count] = byte` (overrun).
  case writePastEnd(count: Int, byte: UInt8)
  /// `p[-count ..< 0] = byte` (underrun).
  case writeBeforeStart(count: Int, byte: UInt8)
  /// After the block is freed, `p[offset] = byte` (0 ≤ offset < N).
  case writeAfterFree(offset: Int, byte: UInt8)
  /// The block is freed twice through its own domain.
  case doubleFree
  /// The block is freed through another domain's API (test_api_misuse).
  case freeThroughWrongDomain(PyMemDomain)
  /// A pointer this instance never made is freed through the block's domain.
  case freeForeignPointer
  /// Like ``freeForeignPointer``, but the pointer lies ``foreignOffset`` bytes into a zeroed buffer of
  /// ``foreignBufferSize`` bytes that the caller owns and vouches for (``PyMemDomains/vouchReadable(_:)``), so
  /// every byte CPython's check and dump read is defined: zeros.
  case freeForeignInZeroedBuffer
  /// The freed block is passed to realloc.
  case reallocFreed(size: UInt)
  /// A malloc in this domain while the GIL is released (test_pymem_malloc_without_gil).
  case mallocWithoutGIL(PyMemDomain)
}

/// Where a block's bytes live, which decides what its memory looks like after free.
public enum BlockStorage: Sendable, Hashable, Codable {
  /// A pymalloc pool block: after free, pymalloc writes its free-list link into the first 8 bytes of what
  /// the hooks gave it (the size field) and nothing else; the arena stays mapped.
  case pymallocPool
  /// A C-heap block (the malloc backing, or pymalloc's fallback through RAW): after free, glibc owns it.
  case cHeap
}

/// What happened to a freed block's memory by the time of the misuse.
public enum FreedMemory: Sendable, Hashable, Codable {
  /// Untouched and readable: a pymalloc pool block in a live arena, or a quarantined C-heap block.
  case stillMapped
  /// Handed out again at the same address through `domain` (pymalloc reuses the last freed block first).
  case reused(by: PyMemDomain)
  /// Given back to the system (glibc's free lists, or an unmapped arena): nobody vouches for it.
  case givenBack
}

/// The situation of the block a misuse is applied to.
public struct MisuseSubject: Sendable, Hashable, Codable {
  /// The domain the block was allocated through.
  public var domain: PyMemDomain
  /// N, the size asked for.
  public var size: Int
  /// Domains whose installed allocator is the debug hooks.
  public var hookedDomains: Set<PyMemDomain>
  public var storage: BlockStorage
  /// For misuses after a free: the state of the freed memory.
  public var afterFree: FreedMemory
  public var build: PyBuild

  public init(domain: PyMemDomain, size: Int, hookedDomains: Set<PyMemDomain>, storage: BlockStorage,
              afterFree: FreedMemory, build: PyBuild = .release) {
    self.domain = domain
    self.size = size
    self.hookedDomains = hookedDomains
    self.storage = storage
    self.afterFree = afterFree
    self.build = build
  }

  /// The subject for a fresh block of `size` bytes in `domain` under `PYTHONMALLOC=configuration`, worked
  /// out from the allocator table alone: hooks on all three domains iff the name asks for them; a pool
  /// block iff pymalloc backs the domain and N (+ 24 under hooks) is 1…512; a freed block stays readable
  /// if it is a pool block or the C heap quarantines it.
  public init(domain: PyMemDomain, size: Int, configuration: String, build: PyBuild = .release,
              mallocQuarantine: Int = 0) throws(PyMemConfigError) {
    let plan = try DomainPlan.plan(for: configuration, build: build)
    let total = size + (plan.debugHooks ? 24 : 0)
    let pool = plan[domain] == .pymalloc && total >= 1 && total <= 512
    self.init(domain: domain, size: size, hookedDomains: plan.debugHooks ? Set(PyMemDomain.allCases) : [],
              storage: pool ? .pymallocPool : .cHeap,
              afterFree: pool || mallocQuarantine > 0 ? .stillMapped : .givenBack, build: build)
  }
}

/// The call that runs the checks after a write misuse.
public enum CheckingCall: Sendable, Hashable, Codable {
  case free
  case realloc
}

/// When the hooks would report.
public enum Moment: Sendable, Hashable, Codable {
  /// During the misuse itself (a bad free or realloc, a malloc without the GIL).
  case atMisuse
  /// At the next free or realloc of the block through its own domain.
  case atNextCheck
}

/// What CPython's debug hooks would do.
public enum MisuseOutcome: Sendable, Hashable {
  /// The hooks do not notice; `note` says why and what happens instead.
  case undetected(String)
  /// The hooks stop with exactly `line` ("Fatal Python error: …"; an id byte ≥ 0x80 is shown as U+FFFD, the
  /// way test_mem.py decodes stderr). `dumpMayCrash`: the dump before it reads a size field the misuse
  /// changed or that belongs to a freed block, so CPython may die in the dump (SIGSEGV, 139) before
  /// printing the line; the model prints it and records a ``WildRead`` in the dump.
  case fatal(line: String, at: Moment, dumpMayCrash: Bool)
  /// CPython's check reads memory nobody vouches for: unpredictable output; the model reports a
  /// ``WildRead`` value as the reason.
  case wildRead(String)
  /// Beyond this model (it would depend on a neighbour's bytes or the system allocator's internals).
  case outsideModel(String)
}

public enum MisusePrediction {
  /// The zeroed buffer of ``Misuse/freeForeignInZeroedBuffer``: its size and where in it the pointer lies.
  public static let foreignBufferSize = 64
  public static let foreignOffset = 32

  /// The predicted outcome of `misuse` on `subject`. `checkedBy` is the call after a write misuse.
  public static func predict(_ misuse: Misuse, on subject: MisuseSubject, checkedBy: CheckingCall = .free)
    -> MisuseOutcome {
    let hooked = subject.hookedDomains.contains(subject.domain)
    let id = subject.domain.apiID
    let checkFunction = checkedBy == .free ? "_PyMem_DebugRawFree" : "_PyMem_DebugRawRealloc"
    switch misuse {
    case .writePastEnd(let count, let byte):
      // The trailing pad is p[N..N+7]; the check reads it from tail+0 upward and stops at the first bad byte.
      guard count > 0 else { return .undetected("nothing was written") }
      guard hooked else { return .undetected("no debug hooks on \(subject.domain): there are no pad bytes") }
      if byte != 0xFD {
        return .fatal(line: fatal(checkFunction, "bad trailing pad byte"), at: .atNextCheck, dumpMayCrash: false)
      }
      if count <= 8 { return .undetected("0xFD written over the forbidden bytes is their own value") }
      return .outsideModel("0xFD bytes past the trailing pad reach the serial number or a neighbour")

    case .writeBeforeStart(let count, let byte):
      // p[-8] is the id (checked first), p[-7..-1] the leading pad, p[-16..-9] the size; beyond is a neighbour,
      // but the check fails on the id or the pad before anything depends on it.
      guard count > 0 else { return .undetected("nothing was written") }
      guard hooked else { return .undetected("no debug hooks on \(subject.domain): there is no header") }
      if count <= 7 {
        return byte == 0xFD ? .undetected("0xFD written over the leading pad is its own value")
          : .fatal(line: fatal(checkFunction, "bad leading pad byte"), at: .atNextCheck, dumpMayCrash: false)
      }
      let sizeTouched = count >= 9
      if byte != id {
        return .fatal(line: fatal(checkFunction, badID(found: byte, expected: id)), at: .atNextCheck,
                      dumpMayCrash: sizeTouched)
      }
      // The id survived (the byte *is* the id), but the pad holds it too, and it is not 0xFD.
      return .fatal(line: fatal(checkFunction, "bad leading pad byte"), at: .atNextCheck, dumpMayCrash: sizeTouched)

    case .writeAfterFree:
      // The hooks never look at data bytes, and a reused block is refilled (0xCD or zeros) before anyone sees it.
      if subject.storage == .cHeap && subject.afterFree != .stillMapped {
        return .outsideModel("the memory belongs to glibc again; the write may hit its free-list words or a new owner")
      }
      if !hooked && subject.storage == .pymallocPool {
        return .outsideModel("without hooks, offsets 0..7 are pymalloc's free-list link")
      }
      return .undetected("the debug hooks never check data bytes")

    case .doubleFree, .reallocFreed:
      // The public realloc refuses a size above PY_SSIZE_T_MAX before the installed table runs (DM2), so
      // the hooks never see the freed pointer (found by fuzz-domains-ops: realloc_freed(p0, 2^63)).
      if case .reallocFreed(let size) = misuse, Self.refusedByWrapper(size) {
        return .undetected("PyMem_*Realloc returns NULL for a size above PY_SSIZE_T_MAX before any hook runs")
      }
      let function = misuse == .doubleFree ? "_PyMem_DebugRawFree" : "_PyMem_DebugRawRealloc"
      guard hooked else {
        return .undetected("no debug hooks: the backing gets the pointer again (pymalloc corrupts its pool, glibc aborts)")
      }
      switch subject.afterFree {
      case .stillMapped:
        // Free filled the whole block with 0xDD; pymalloc then wrote its link over b[0:8] only, a quarantined
        // C-heap block keeps all of it. So p[-8] reads 0xDD ≠ any id, and N is a bogus link or 0xDDDD….
        return .fatal(line: fatal(function, badID(found: 0xDD, expected: id)), at: .atMisuse, dumpMayCrash: true)
      case .reused(let owner) where owner == subject.domain:
        return .undetected("the block was handed out again by \(owner): this releases the new owner's block")
      case .reused(let owner):
        guard subject.hookedDomains.contains(owner) else {
          return .outsideModel("the new owner \(owner) has no hooks: p[-8] is its data")
        }
        return .fatal(line: fatal(function, badID(found: owner.apiID, expected: id)), at: .atMisuse,
                      dumpMayCrash: false)
      case .givenBack:
        return .wildRead("p-16 … p belong to glibc again (tcache/bin words) or are unmapped")
      }

    case .freeThroughWrongDomain(let other):
      guard other != subject.domain else { return .undetected("that is the block's own domain") }
      guard subject.hookedDomains.contains(other) else {
        return .undetected("no debug hooks on \(other): its backing gets a block it did not make")
      }
      guard hooked else { return .outsideModel("the block has no debug header: p[-8] is the backing's byte") }
      return .fatal(line: fatal("_PyMem_DebugRawFree", badID(found: id, expected: other.apiID)), at: .atMisuse,
                    dumpMayCrash: false)

    case .freeForeignPointer:
      guard hooked else { return .undetected("no debug hooks: the backing gets a pointer it never made") }
      return .wildRead("CPython reads the 16 bytes before a pointer it never made")

    case .freeForeignInZeroedBuffer:
      // The id byte p[-8] reads 0, which is no domain's id: the first check fails. The dump that precedes
      // the line reads the size field (0, so no data bytes) and the 8 trailing pad bytes at p: all inside
      // the buffer (offset 32 ≥ 16 before, 32 ≥ 8 after).
      guard hooked else { return .undetected("no debug hooks: the backing gets a pointer it never made") }
      return .fatal(line: fatal("_PyMem_DebugRawFree", badID(found: 0, expected: id)), at: .atMisuse,
                    dumpMayCrash: false)

    case .mallocWithoutGIL(let domain):
      guard domain != .raw else { return .undetected("RAW may be called without the GIL") }
      guard subject.hookedDomains.contains(domain) else {
        return .undetected("no debug hooks on \(domain): nobody checks the GIL (a data race in CPython)")
      }
      let message = subject.build.version >= .v3_14 && subject.build.freeThreaded
        ? "Python memory allocator called without an active thread state. "
          + "Are you trying to call it inside of a Py_BEGIN_ALLOW_THREADS block?"
        : "Python memory allocator called without holding the GIL"
      return .fatal(line: fatal("_PyMem_DebugMalloc", message), at: .atMisuse, dumpMayCrash: false)
    }
  }

  /// `new_size > (size_t)PY_SSIZE_T_MAX` in `PyMem_RawMalloc` … `PyObject_Realloc`: such a request returns
  /// NULL before the installed allocator (the hooks, their GIL check and address checks included) is called.
  public static func refusedByWrapper(_ size: UInt) -> Bool { size > UInt(Int.max) }

  private static func fatal(_ function: String, _ message: String) -> String {
    "Fatal Python error: \(function): \(message)"
  }

  /// `'%c'` of a byte as test_mem.py decodes it: ASCII as itself, anything else U+FFFD.
  private static func badID(found: UInt8, expected: UInt8) -> String {
    func show(_ b: UInt8) -> String { b < 0x80 ? String(Unicode.Scalar(b)) : "\u{FFFD}" }
    return "bad ID: Allocated using API '\(show(found))', verified using API '\(show(expected))'"
  }
}
