// FaultSweep.swift — exhaustive out-of-memory injection (issue 15 part 3). A program is first run clean,
// counting the calls of each allocation site of its family; then once per site and call number k that
// occurred, with exactly the k-th call of that site failing (ENOMEM). Each faulted run must pass the full
// oracle (every rule and invariant, teardown included) and the three fault checks:
//
//   F1  the fault fires exactly once, during an allocating op of the program;
//   F2  that op's outcome is CPython's / mimalloc's: pymalloc falls back to the raw allocator when an arena
//       mmap or a radix-tree node fails (never NULL for a pool-sized request), and returns NULL when the
//       raw call serving a 0- or > 512-byte request (or a raw block's realloc) fails; mimalloc retries a
//       failed segment map after a forced collect, so one failed mmap never gives NULL;
//   F3  nothing is left behind: after the teardown freed every block, no raw-fallback block is still
//       counted, and once the allocator releases what it keeps (pymalloc's last arena, the radix nodes)
//       no byte is mapped and no raw block is live — a mapping or block lost on a failure path shows here.
//
// Sites per family (``FaultSite``): pymalloc: `mmap` (arenas, `PageSource.reserve`) and `raw` (every
// `RawAllocator` malloc, calloc and realloc, the radix-tree nodes included); heaps: `mmap` (segments);
// domains: `mmap` (pymalloc's arenas under MEM and OBJ) and `raw` (the C heap under every domain on malloc,
// RAW included, and pymalloc's fallback and radix nodes through RAW). Domains specifics: F3 there compares
// with the clean run (a run that stops where CPython aborts leaves its corrupted blocks to the harness), and
// a fault that hits a misuse op's own probe allocation stops the run with the comparison void (the
// prediction assumes that allocation succeeds); a misuse of a block a fault left NULL is not performed.
// Each run is replayed by `alloc-check faults FILE --site S --call K`, and its verdict alone by
// `alloc-check run FILE --arena-faults nth:K` (mmap) or `--raw-faults nth:K` (raw).

import AllocUnderTest
import Oracle

#if canImport(Glibc)
import Glibc
#endif

/// A kind of call that can fail, counted by its own ``FaultInjector``.
public enum FaultSite: String, CaseIterable, Sendable {
  /// `PageSource.reserve`: pymalloc's arenas, mimalloc's segments.
  case mmap
  /// `RawAllocator` malloc/calloc/realloc: pymalloc's raw fallback and its radix-tree nodes.
  case raw

  /// The `run` option that fails call k of this site.
  public var runOption: String { self == .mmap ? "--arena-faults" : "--raw-faults" }
}

/// The fault checks of the sweep (beyond the oracle's own rules, which every faulted run must also pass).
public enum FaultCheck: String, CaseIterable, Sendable {
  case F1, F2, F3

  public var summary: String {
    switch self {
    case .F1: "the fault fires exactly once, during an allocating op"
    case .F2: "the op's outcome is CPython's/mimalloc's (NULL only where the failed call served the request)"
    case .F3: "nothing left behind: no raw-fallback block after teardown, nothing mapped or live after release"
    }
  }
}

/// The families the sweep covers, and what each runs on.
public struct FaultSubject: Sendable {
  public let family: ProgramFamily
  public let pymallocBugs: Set<PymallocBug>
  public let mimallocBugs: Set<MimallocBug>
  public let domainBugs: Set<DomainBug>

  public init(family: ProgramFamily, pymallocBugs: Set<PymallocBug> = [], mimallocBugs: Set<MimallocBug> = [],
              domainBugs: Set<DomainBug> = []) {
    self.family = family
    self.pymallocBugs = pymallocBugs
    self.mimallocBugs = mimallocBugs
    self.domainBugs = domainBugs
  }

  public var sites: [FaultSite] { family == .heaps ? [.mmap] : [.mmap, .raw] }
  /// Every family is swept.
  public static let families = ProgramFamily.allCases

  /// A fresh allocator whose `site` fails its k-th call (none when `site` is nil).
  func makeAdapter(failing site: FaultSite?, call k: Int) -> AllocatorAdapter {
    let plan = FaultPlan.nth(max(k, 1), errno: ENOMEM)
    switch family {
    case .heaps:
      return MimallocAdapter(bugs: mimallocBugs, faults: site == .mmap ? plan : .never)
    case .domains:
      return DomainsAdapter(bugs: domainBugs, arenaFaults: site == .mmap ? plan : .never, rawFaults: site == .raw ? plan : .never,
                            pymallocBugs: pymallocBugs)
    case .pymalloc:
      return PymallocAdapter(bugs: pymallocBugs, arenaFaults: site == .mmap ? plan : .never,
                             rawFaults: site == .raw ? plan : .never)
    }
  }

  /// Calls of `site` made since the adapter's last reset.
  func calls(_ adapter: AllocatorAdapter, _ site: FaultSite) -> Int {
    if let m = adapter as? MimallocAdapter { return site == .mmap ? m.allocator.pages.faults.calls : 0 }
    if let d = adapter as? DomainsAdapter { return site == .mmap ? d.faultCalls.mmap : d.faultCalls.raw }
    let p = (adapter as! PymallocAdapter).allocator
    return site == .mmap ? p.pages.faults.calls : p.raw.faults.calls
  }

  /// F3 after a run whose teardown freed every block: the reason, or nil. Releases everything the
  /// allocator keeps (the adapter is not used again). Domains: `cleanRawBlocks` is what the clean run left.
  func leftBehind(_ adapter: AllocatorAdapter, cleanRawBlocks: Int = 0) -> String? {
    if let d = adapter as? DomainsAdapter {
      d.reset()  // pymalloc gives back every arena and radix node; the C heap drains its quarantine
      let (mapped, raw) = d.footprint
      if mapped != 0 { return "\(mapped) bytes still mapped after every arena was released (a mapping was lost)" }
      if raw > cleanRawBlocks {
        return "\(raw) C-heap blocks still live after the reset, \(cleanRawBlocks) after the clean run (a block was lost)"
      }
      return nil
    }
    if let m = adapter as? MimallocAdapter {
      m.allocator.reset()
      let mapped = m.allocator.pages.stats.mappedBytes
      return mapped == 0 ? nil : "\(mapped) bytes still mapped after every segment was released (a mapping was lost)"
    }
    let p = (adapter as! PymallocAdapter).allocator
    if p.rawAllocatedBlocks != 0 {
      return "\(p.rawAllocatedBlocks) raw-fallback blocks still counted after the teardown freed every block"
    }
    p.reset(keepSpares: false)
    let mapped = p.pages.stats.mappedBytes
    if mapped != 0 { return "\(mapped) bytes still mapped after every arena was released (a mapping was lost)" }
    let live = p.raw.liveBlocks
    if live != 0 { return "\(live) raw blocks still live after every arena and radix node was released (a block was lost)" }
    return nil
  }

  /// F2: must the op during which `site`'s single fault fired return NULL?
  func expectsNull(_ site: FaultSite, _ event: FaultEvent) -> Bool {
    if event.inMisuse { return event.returnedNull }  // a probe allocation inside a misuse op: not judged
    return switch (family, site) {
    case (.heaps, _): false  // mimalloc: collect (force) and map again
    case (_, .mmap): false  // pymalloc: no arena, so the raw allocator serves it
    case (_, .raw): !event.poolSized  // the raw call was the request's own (else a radix node: fallback)
    }
  }
}

/// One faulted run that broke a check.
public struct FaultFailure: Sendable {
  public var site: FaultSite
  public var call: Int
  /// An oracle rule id or F1–F3.
  public var rule: String
  public var opIndex: Int?
  public var detail: String
}

/// The sweep of one site of one program.
public struct SiteSweep: Sendable {
  public var site: FaultSite
  /// Calls of this site in the clean run: the number of faulted runs.
  public var calls: Int
  /// Faulted runs whose fault surfaced as a NULL result (the rest were absorbed: fallback or retry).
  public var nulls = 0
  public var failures: [FaultFailure] = []
}

/// Every site of one program.
public struct FaultSweepResult: Sendable {
  /// The clean run's violation, if any (then nothing was swept: the program must pass first).
  public var baseline: Violation?
  public var sites: [SiteSweep] = []
  public var runs: Int { sites.reduce(0) { $0 + $1.calls } }
  public var failures: [FaultFailure] { sites.flatMap(\.failures) }
}

public enum FaultSweep {
  /// The clean run: its verdict, the call count per site, and the ops that returned NULL without any fault
  /// (a request the OS refuses, such as 2^48 bytes: one injected fault cannot change that outcome).
  public static func count(_ program: Program, _ subject: FaultSubject, runSeed: UInt64 = 0)
    -> (verdict: Verdict, calls: [FaultSite: Int], nullOps: Set<Int>, rawBlocksLeft: Int) {
    let adapter = subject.makeAdapter(failing: nil, call: 1)
    let v = Executor.run(program, on: adapter, config: ExecutorConfig(oracle: subject.family.fullOracle, runSeed: runSeed))
    var calls: [FaultSite: Int] = [:]
    for s in subject.sites { calls[s] = subject.calls(adapter, s) }
    let nullOps = Set(v.trace.filter { $0.result.hasPrefix("→ NULL") }.map(\.opIndex))
    var left = 0
    if let d = adapter as? DomainsAdapter {
      d.reset()
      left = d.footprint.rawBlocks
    }
    return (v, calls, nullOps, left)
  }

  /// One faulted run: call `k` of `site` fails. The failure it shows, or nil; and the verdict.
  /// `cleanNulls`: the clean run's NULL ops (``count(_:_:runSeed:)``), whose outcome the fault must not change.
  public static func runOnce(_ program: Program, _ subject: FaultSubject, site: FaultSite, call k: Int,
                             runSeed: UInt64 = 0, cleanNulls: Set<Int>, cleanRawBlocks: Int = 0, recordTrace: Bool = false)
    -> (failure: FaultFailure?, verdict: Verdict) {
    let adapter = subject.makeAdapter(failing: site, call: k)
    let v = Executor.run(program, on: adapter, config: ExecutorConfig(oracle: subject.family.fullOracle, runSeed: runSeed, recordTrace: recordTrace))
    func fail(_ rule: String, _ op: Int?, _ detail: String) -> (FaultFailure?, Verdict) {
      (FaultFailure(site: site, call: k, rule: rule, opIndex: op, detail: detail), v)
    }
    if let violation = v.violation { return fail(violation.rule, violation.opIndex, violation.detail) }
    let injected = adapter.injectedFaults
    guard injected == 1, v.faults.count == 1, let event = v.faults.first else {
      let where_ = v.faults.map { "op \($0.opIndex)" }.joined(separator: ", ")
      return fail(FaultCheck.F1.rawValue, v.faults.first?.opIndex,
                  "\(injected) faults injected (\(subject.calls(adapter, site)) \(site.rawValue) calls made), seen during "
                  + (where_.isEmpty ? "no allocating op" : where_) + "; expected exactly one, at call \(k)")
    }
    if event.opIndex >= program.ops.count {
      return fail(FaultCheck.F1.rawValue, event.opIndex, "the fault fired in the teardown, which only frees")
    }
    let osRefused = cleanNulls.contains(event.opIndex)
    let wantNull = osRefused || subject.expectsNull(site, event)
    if event.returnedNull != wantNull {
      let o = program.ops[event.opIndex]
      let id = program.ops[..<event.opIndex].filter(\.isAllocating).count
      let op = ProgramText.renderLine(o, definedName: o.isAllocating ? "p\(id)" : nil)
      let why = osRefused ? "the clean run returned NULL here too (the OS refused the request)"
        : wantNull ? "the failed raw call served the request, so CPython returns NULL"
        : subject.family == .heaps ? "mimalloc collects and maps again after a failed segment map"
        : site == .mmap ? "pymalloc serves a request whose arena cannot be mapped from the raw allocator"
        : "a failed radix-node allocation gives the arena back and the request falls back to raw"
      return fail(FaultCheck.F2.rawValue, event.opIndex,
                  "\(op) returned \(event.returnedNull ? "NULL" : "a block") after \(site.rawValue) call \(k) failed; \(why)")
    }
    if let lost = subject.leftBehind(adapter, cleanRawBlocks: cleanRawBlocks) { return fail(FaultCheck.F3.rawValue, nil, lost) }
    return (nil, v)
  }

  /// Sweeps every site and call of `program`. `progress` is called after each run with (runs done, runs).
  public static func sweep(_ program: Program, _ subject: FaultSubject, runSeed: UInt64 = 0,
                           sites: [FaultSite]? = nil, progress: (Int, Int) -> Void = { _, _ in }) -> FaultSweepResult {
    let (clean, calls, cleanNulls, cleanLeft) = count(program, subject, runSeed: runSeed)
    var result = FaultSweepResult(baseline: clean.violation)
    guard clean.passed else { return result }
    let chosen = subject.sites.filter { sites?.contains($0) ?? true }
    let total = chosen.reduce(0) { $0 + calls[$1, default: 0] }
    var done = 0
    for site in chosen {
      var s = SiteSweep(site: site, calls: calls[site, default: 0])
      if s.calls > 0 {
        for k in 1...s.calls {
          let (failure, v) = runOnce(program, subject, site: site, call: k, runSeed: runSeed, cleanNulls: cleanNulls, cleanRawBlocks: cleanLeft)
          if let failure {
            s.failures.append(failure)
          } else if let e = v.faults.first, e.returnedNull, !cleanNulls.contains(e.opIndex) {
            s.nulls += 1
          }
          done += 1
          progress(done, total)
        }
      }
      result.sites.append(s)
    }
    return result
  }
}
