// DomainsExecutor.swift — runs a domains-family program (DomainOp.swift) on a ``DomainsAdapter`` and checks
// the domain rules D1–D8 (DomainRules.swift) op by op; stops at the first violation, or where CPython would
// abort (a fatal error of the hooks, predicted or not). Clean calls and their checks live here; misuse ops
// in DomainsExecutor+Misuse.swift. At the end, a teardown frees every block still held, checked the same way.
// The adapter's domains (reference or real libpython) are driven through ``DomainsAdapter/calls``; every call
// that may end in a fatal error goes to ``DomainsAdapter/risky(_:)`` (the real peer forks for it).
//
// Model per block: its address (nil: NULL), domain, N, canary seed, whether it fell back to RAW inside
// pymalloc (``DBlock/nested``) and a pending write misuse whose check is the block's next free or realloc.

import AllocUnderTest
import Oracle

/// One misuse as the run saw it: the predicted and the produced diagnostic, or why none was compared.
public struct MisuseComparison: Sendable, Equatable {
  public enum Status: String, Sendable {
    /// Prediction and outcome were compared (equal or not: a difference is also a D1 violation).
    case compared
    /// The prediction is a wild read (CPython's output is unpredictable): only "the model also stopped on
    /// a read of unknown memory" was checked.
    case wildRead
    /// Beyond the model: the harmful part was not performed.
    case outsideModel
    /// A real CPython died inside the block dump (SIGSEGV) before the predicted line, which the prediction
    /// allows (``dumpMayCrash``): only "its stderr is a dump, cut short by a memory fault" was checked.
    case diedInDump
  }
  public var opIndex: Int
  public var call: String
  public var predicted: String
  public var produced: String
  public var status: Status
  /// The predicted line comes after a dump that reads a size field the misuse changed or a freed block's:
  /// CPython may die in the dump (SIGSEGV) before printing it. The model prints it; so do we, marked.
  public var dumpMayCrash = false
  /// The first fatal error the call produced, with all it printed (nil: none).
  public var producedFatal: ProducedFatal? = nil
}

public struct DomainsExecutor {
  /// A block the program holds.
  struct DBlock {
    var id: Int
    var address: Int?
    var domain: PyMemDomain
    var size: Int
    var seed: UInt64
    /// Hooked MEM/OBJ block that pymalloc served through RAW: a RAW header sits around its header.
    var nested: Bool
    /// A write misuse waiting for the block's next free or realloc.
    var pending: PendingWrite?
    /// Unhooked: a pool-sized block pymalloc served from RAW because an injected fault cost it its arena
    /// (hooked, ``nested`` says so); it is C-heap memory, and a realloc keeps it there.
    var fellBack = false
  }

  /// A write misuse not yet checked: what it was, and the bytes it overwrote (to restore them when the
  /// harness cleans up after a run that stopped).
  struct PendingWrite {
    var misuse: Misuse
    var op: Int
    var text: String
    var offset: Int
    var saved: [UInt8]
  }

  let adapter: DomainsAdapter
  let config: ExecutorConfig
  var domains: any DomainsCalls { adapter.calls }
  /// ``OracleConfig/rules`` as bits (set by `run`): the per-op rule tests hash nothing.
  var rules = RuleBits([])
  var statics = ProgramState()
  var blocks: [Int: DBlock] = [:]
  var trace: [TraceLine] = []
  var comparisons: [MisuseComparison] = []
  var ops = 0
  var lastSerial: UInt64? = nil
  /// Foreign buffers to give back after the run.
  var foreign: [Int] = []
  /// Blocks whose free or realloc a fatal error abandoned: still allocated, given back by the cleanup.
  var abandoned: [DBlock] = []
  /// Allocating ops during which an injected fault fired (only under a fault plan; FaultSweep.swift).
  var faultEvents: [FaultEvent] = []
  /// Set when the run must end without a violation (CPython aborted as predicted, or the harness refused
  /// to continue where a hook bug would hand a freed block to its backing).
  var stopped: String? = nil

  /// Resets `adapter`, runs `program` and returns the verdict (``Verdict/misuses`` lists every misuse).
  /// Precondition: `program` is valid and of the domains family.
  public static func run(_ program: Program, on adapter: DomainsAdapter, config: ExecutorConfig = .init(oracle: .domains))
    -> Verdict {
    precondition(program.isDomainsFamily, "DomainsExecutor runs domains-family programs only")
    adapter.reset()
    var e = DomainsExecutor(adapter: adapter, config: config)
    e.rules = RuleBits(config.oracle.rules)
    let violation = e.runAll(program)
    adapter.calls.forgetVouched()
    for f in e.foreign { MemoryAccess.freeForeign(f) }
    if violation == nil, e.stopped != nil { e.releaseUntouched() }
    if let why = e.stopped, violation == nil { e.record(program.ops.count, "# run stopped", why) }
    var verdict = Verdict(violation: violation, trace: e.trace, opsExecuted: e.ops, misuses: e.comparisons)
    verdict.faults = e.faultEvents
    return verdict
  }

  private mutating func runAll(_ program: Program) -> Violation? {
    var nextID = 0
    for (i, op) in program.ops.enumerated() {
      guard case .domain(let d) = op else { preconditionFailure("not a domains-family op") }
      ops += 1
      var defined: Int? = nil
      if op.isAllocating {
        defined = nextID
        nextID += 1
      }
      let facts = d.operand.flatMap { statics.domains.blocks[$0.id] }
      do { try statics.apply(op, at: i) } catch { preconditionFailure("DomainsExecutor.run: invalid program: \(error)") }
      if let v = step(i, d, defines: defined, operandFacts: facts) { return v }
      if stopped != nil { return nil }
    }
    // Teardown: every block still held, freed through its own domain (pending misuses are checked here).
    let end = program.ops.count
    for (k, b) in blocks.values.sorted(by: { $0.id < $1.id }).enumerated() {
      ops += 1
      if let v = free(end + k, b, text: "\(b.domain.function("Free"))(p\(b.id))  # teardown") { return v }
      if stopped != nil { return nil }
    }
    return nil
  }

  mutating func step(_ i: Int, _ op: DomainOp, defines id: Int?, operandFacts: DomainBlockFacts?) -> Violation? {
    switch op {
    case .configure(let c):
      do { try domains.setupAllocators(c.pythonMalloc) } catch { preconditionFailure("release builds accept \(c): \(error)") }
      return configured(i, op)
    case .setupDebugHooks:
      domains.setupDebugHooks()
      return configured(i, op)
    case .malloc(let d, let n):
      let before = adapter.producedCount
      let faults = adapter.injectedFaults
      let a = domains.mallocAddress(d, n)
      return allocated(i, op, id: id!, domain: d, size: n, address: a, before: before, fill: HookBytes.clean,
                       fault: adapter.injectedFaults > faults)
    case .calloc(let d, let c, let n):
      let before = adapter.producedCount
      let faults = adapter.injectedFaults
      let a = domains.callocAddress(d, c, n)
      return allocated(i, op, id: id!, domain: d, size: DomainSizes.product(c, n) ?? .max, address: a, before: before, fill: 0,
                       fault: adapter.injectedFaults > faults)
    case .realloc(let d, let ref, let n):
      return reallocate(i, op, ref.flatMap { blocks[$0.id] }, domain: d, size: n, id: id!)
    case .free(let d, let ref):
      guard let ref, let b = blocks[ref.id] else {
        let before = adapter.producedCount
        domains.freeAddress(d, nil)
        record(i, op.text, "ok (NULL)")
        return clean(i, op.text, before)
      }
      return free(i, b, text: op.text)
    default:
      return misuse(i, op, operandFacts: operandFacts)
    }
  }

  /// D7 after a configuration step.
  mutating func configured(_ i: Int, _ op: DomainOp) -> Violation? {
    let name = domains.currentAllocatorName()
    record(i, op.text, "→ \(name ?? "NULL")")
    guard rules.contains(.allocatorName) else { return nil }
    let foreign = hooked ? domains.domainsOffTheirDebugContext().map(\.description) : []
    return DomainRules.allocatorName(opIndex: i, expected: statics.domains.expectedAllocatorName, actual: name, notOwnContext: foreign)
  }

  var hooked: Bool { statics.domains.hooked }

  /// D1 for a clean call: the fatal errors since `before` must be none. Any fatal ends the run.
  mutating func clean(_ i: Int, _ call: @autoclosure () -> String, _ before: Int) -> Violation? {
    guard adapter.producedCount > before else { return nil }
    let produced = adapter.produced[before...].map(\.fatalLine)
    let call = call()
    stopped = "fatal error during a clean call: \(produced[0])"
    guard rules.contains(.diagnosticPredicted) else { return nil }
    return DomainRules.diagnostic(opIndex: i, call: call, predicted: nil, produced: produced)
  }

  /// After malloc or calloc: D1, D8, then (hooked, non-NULL) D2, D3, D5; then the canary goes in.
  mutating func allocated(_ i: Int, _ op: DomainOp, id: Int, domain d: PyMemDomain, size n: UInt64, address a: Int?,
                          before: Int, fill: UInt8, fault: Bool = false) -> Violation? {
    record(i, "p\(id) = \(op.text)", a.map { "→ \(hexString($0))" } ?? (fault ? "→ NULL (injected fault)" : "→ NULL"))
    if fault {  // rare: under a fault plan
      faultEvents.append(FaultEvent(opIndex: i, returnedNull: a == nil, poolSized: poolServes(d, n)))
    }
    if let v = clean(i, op.text, before) { return v }
    if stopped != nil { return nil }
    let refused = op.kind == .domainCalloc ? statics.domains.blocks[id]!.isNull : DomainSizes.refused(n)
    if rules.contains(.nullIffRefused), !(fault && a == nil),
       let v = DomainRules.nullIffRefused(opIndex: i, call: op.text, refused: refused, gotNull: a == nil) {
      return v
    }
    guard let a, !refused else {
      blocks[id] = DBlock(id: id, address: nil, domain: d, size: 0, seed: 0, nested: false)
      return nil
    }
    // After a fault a pool-sized request may have been served from RAW (no arena): where it really lives.
    let fellBack = fault && poolServes(d, n) && adapter.inPymallocArena(a) == false
    var b = DBlock(id: id, address: a, domain: d, size: Int(n), seed: Canary.seed(forBlock: id, runSeed: config.runSeed),
                   nested: nests(d, Int(n), wasNested: fellBack), fellBack: fellBack)
    if let v = hookChecks(i, &b, freshFrom: 0, fill: fill, what: op.kind == .domainCalloc ? "calloc data" : "malloc data") {
      return v
    }
    fillCanary(b, address: a, from: 0)
    blocks[id] = b
    return nil
  }

  /// Under hooks, pymalloc (MEM/OBJ) serves N + 32 bytes (N + 24 without serial numbers) from a pool only
  /// up to 512; above, RAW serves it inside RAW's own hooks, and a block that left the pools never comes
  /// back (realloc keeps it in RAW).
  func nests(_ d: PyMemDomain, _ n: Int, wasNested: Bool) -> Bool {
    guard hooked, statics.domains.configuration.pymallocBacks(d) else { return false }
    return wasNested || n + extraBytes > 512
  }

  /// Whether pymalloc serves an `n`-byte request of `d` from a pool (hooked: N plus the hooks' bytes) when it
  /// has an arena: then a single injected fault must not surface as NULL (it falls back to RAW).
  func poolServes(_ d: PyMemDomain, _ n: UInt64) -> Bool {
    guard statics.domains.configuration.pymallocBacks(d), n <= 512 else { return false }
    let bytes = Int(n) + (hooked ? extraBytes : 0)
    return bytes >= 1 && bytes <= 512
  }

  /// What the hooks add to a block: 3·S, or 4·S with serial numbers.
  var extraBytes: Int { DebugLayout.extraBytes(serialNumbers: adapter.serialNumbers) }

  /// D2 (header, pads, RAW nesting), D3 (bytes `from ..< N` read `fill`), D5 (serial) of a hooked block.
  mutating func hookChecks(_ i: Int, _ b: inout DBlock, freshFrom: Int, fill: UInt8, what: String) -> Violation? {
    guard hooked, let p = b.address else { return nil }
    let name = "p\(b.id)"
    let n = b.size
    if rules.contains(.hookLayout) {
      if let v = DomainRules.layout(opIndex: i, block: name, requested: UInt64(n), apiID: b.domain.apiID,
                                    header: MemoryAccess.readUnchecked(address: p - 16, count: 16),
                                    trailer: MemoryAccess.readUnchecked(address: p + n, count: 8)) {
        return v
      }
      if b.nested {
        // The RAW header first: only if it is there is RAW's trailing pad (past our block) ours to read.
        let rawHeader = MemoryAccess.readUnchecked(address: p - 32, count: 16)
        let rawSize = UInt64(n + extraBytes)
        if let v = DomainRules.layout(opIndex: i, block: name, requested: UInt64(n), apiID: b.domain.apiID,
                                      header: MemoryAccess.readUnchecked(address: p - 16, count: 16), trailer: [],
                                      raw: (rawHeader, [], rawSize)) {
          return v
        }
        if let v = DomainRules.layout(opIndex: i, block: name, requested: UInt64(n), apiID: b.domain.apiID,
                                      header: MemoryAccess.readUnchecked(address: p - 16, count: 16), trailer: [],
                                      raw: (rawHeader, MemoryAccess.readUnchecked(address: p + n + extraBytes - 16, count: 8), rawSize)) {
          return v
        }
      }
    }
    if rules.contains(.freshFill), freshFrom < n,
      MemoryAccess.firstByte(address: p + freshFrom, count: n - freshFrom, otherThan: fill) != nil,
      let v = DomainRules.freshFill(opIndex: i, block: name, what: what,
                                    data: MemoryAccess.readUnchecked(address: p + freshFrom, count: n - freshFrom), expected: fill) {
      return v
    }
    guard adapter.serialNumbers else { return nil }  // without them p[N+8…] is past the block
    let serial = MemoryAccess.readUnchecked(address: p + n + 8, count: 8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    if rules.contains(.serialBumped), let v = DomainRules.serialBumped(opIndex: i, block: name, serial: serial, previous: lastSerial) {
      return v
    }
    lastSerial = max(lastSerial ?? 0, serial)
    return nil
  }

  /// Bytes [from, b.size) of `b`'s canary into the block at `address`, a word at a time (``Canary/Pattern``).
  func fillCanary(_ b: DBlock, address: Int, from: Int) {
    let pattern = Canary.Pattern(seed: b.seed)
    MemoryAccess.fillPattern(address: address, from: from, to: b.size) { pattern.word($0) }
  }

  /// D6: the block still holds what the program wrote. Compared a word at a time; only a mismatch builds the
  /// byte arrays the rule's message is made from.
  func contentKept(_ i: Int, _ b: DBlock, when: String, count: Int? = nil) -> Violation? {
    guard rules.contains(.contentKept), let p = b.address else { return nil }
    let n = count ?? b.size
    let pattern = Canary.Pattern(seed: b.seed)
    guard MemoryAccess.firstPatternMismatch(address: p, count: n, word: { pattern.word($0) }) != nil else { return nil }
    return DomainRules.contentKept(opIndex: i, block: "p\(b.id)", when: when, expected: Canary.bytes(seed: b.seed, to: n),
                                   actual: MemoryAccess.readUnchecked(address: p, count: n))
  }

  /// Frees `b` through its own domain (a clean free, or the check of a pending write misuse): D6 before,
  /// D1 (against the pending prediction, if any), then D4 on what is left.
  mutating func free(_ i: Int, _ b: DBlock, text: @autoclosure () -> String) -> Violation? {
    if let v = contentKept(i, b, when: "before free") { return v }
    let before = adapter.producedCount
    if b.pending != nil { adapter.risky(.free(b.domain, b.address)) } else { domains.freeAddress(b.domain, b.address) }
    blocks[b.id] = nil
    record(i, text(), "ok")
    if let pending = b.pending {
      if let v = checked(i, b, pending, by: .free, call: text(), before: before) { return v }
      if stopped != nil { abandoned.append(b) }
    } else if let v = clean(i, text(), before) {
      return v
    }
    if stopped != nil { return nil }
    return deadFill(i, b)
  }

  /// D4 right after `b` was freed, where its bytes are still readable.
  func deadFill(_ i: Int, _ b: DBlock) -> Violation? {
    guard hooked, rules.contains(.deadFill), let p = b.address else { return nil }
    // b[0:8] (p-16 …) may hold pymalloc's free-list link; the rest of the block, serial included, is ours.
    let range = (p - 8)..<(p + b.size + extraBytes - 16)
    guard let readable = domains.readableRange(around: range.lowerBound), readable.contains(range.lowerBound),
      readable.upperBound >= range.upperBound,
      MemoryAccess.firstByte(address: range.lowerBound, count: range.count, otherThan: HookBytes.dead) != nil
    else { return nil }
    return DomainRules.deadFill(opIndex: i, block: "p\(b.id)", firstOffset: -8,
                                bytes: MemoryAccess.readUnchecked(address: range.lowerBound, count: range.count))
  }

  mutating func reallocate(_ i: Int, _ op: DomainOp, _ old: DBlock?, domain d: PyMemDomain, size n: UInt64, id: Int) -> Violation? {
    guard let old, old.address != nil else {
      if let old { blocks[old.id] = nil }  // a NULL name: realloc(NULL, n) is malloc(n)
      let before = adapter.producedCount
      let faults = adapter.injectedFaults
      let a = domains.reallocAddress(d, nil, n)
      return allocated(i, op, id: id, domain: d, size: n, address: a, before: before, fill: HookBytes.clean,
                       fault: adapter.injectedFaults > faults)
    }
    if let v = contentKept(i, old, when: "before realloc") { return v }
    let before = adapter.producedCount
    let faults = adapter.injectedFaults
    // Above PY_SSIZE_T_MAX the wrapper returns NULL before the hooks run: a pending misuse stays pending.
    let hooksRan = !MisusePrediction.refusedByWrapper(UInt(n))
    let a = old.pending != nil && hooksRan ? adapter.risky(.realloc(d, old.address, n)) : domains.reallocAddress(d, old.address, n)
    let fault = adapter.injectedFaults > faults
    record(i, "p\(id) = \(op.text)", a.map { "→ \(hexString($0))" } ?? (fault ? "→ NULL (injected fault)" : "→ NULL"))
    if fault {  // rare: under a fault plan; a block outside the pools stays there (never adopted)
      let inPool = !old.nested && !old.fellBack && adapter.inPymallocArena(old.address!) == true
      faultEvents.append(FaultEvent(opIndex: i, returnedNull: a == nil, poolSized: poolServes(d, n) && inPool))
    }
    blocks[old.id] = nil
    if let pending = old.pending, hooksRan {
      if let v = checked(i, old, pending, by: .realloc, call: op.text, before: before) { return v }
      if stopped != nil { abandoned.append(old) }
    } else if let v = clean(i, op.text, before) {
      return v
    }
    if stopped != nil { return nil }
    let refused = DomainSizes.refused(n)
    if rules.contains(.nullIffRefused), !(fault && a == nil),
       let v = DomainRules.nullIffRefused(opIndex: i, call: op.text, refused: refused, gotNull: a == nil) {
      return v
    }
    if a == nil && !refused && !fault {
      // A NULL the rules do not allow (D8 is off, or it would have reported): whether the old block still
      // exists is unknown (glibc's realloc(p, 0) frees p), so the run cannot go on safely.
      stopped = "\(op.text) returned NULL for a request that must succeed; p\(old.id)'s state is unknown"
      return nil
    }
    guard let a, !refused else {
      // The old block is still valid (a failed realloc, refused or out of memory, leaves it as it was) and
      // the new name holds it, its bytes untouched.
      var kept = old
      kept.id = id
      if hooksRan { kept.pending = nil }
      blocks[id] = kept
      return contentKept(i, old, when: "after a failed realloc")
    }
    let kept = min(old.size, Int(n))
    let fellBack = old.fellBack || (fault && poolServes(d, n) && adapter.inPymallocArena(a) == false)
    var b = DBlock(id: id, address: a, domain: d, size: Int(n), seed: old.seed,
                   nested: nests(d, Int(n), wasNested: old.nested || fellBack), fellBack: fellBack)
    if let v = contentKept(i, b, when: "after realloc (the first \(kept) bytes)", count: kept) { return v }
    if let v = hookChecks(i, &b, freshFrom: old.size, fill: HookBytes.clean, what: "realloc growth") { return v }
    fillCanary(b, address: a, from: kept)
    blocks[id] = b
    return nil
  }

  /// Harness hygiene after a run that stopped where CPython aborts (not part of the program, nothing
  /// checked): every block still allocated — held by the program, or abandoned by the fatal error — gets
  /// the bytes a write misuse overwrote back and is freed through its own domain, so a fuzz process does
  /// not leak C-heap blocks run after run.
  mutating func releaseUntouched() {
    for b in Array(blocks.values) + abandoned {
      guard let p = b.address else { continue }
      if let w = b.pending { MemoryAccess.writeUnchecked(address: p + w.offset, bytes: w.saved) }
      domains.freeAddress(b.domain, p)
    }
    blocks = [:]
    abandoned = []
  }

  /// A trace line, built only when the trace is recorded (a fuzz run never does).
  mutating func record(_ i: Int, _ text: @autoclosure () -> String, _ result: @autoclosure () -> String) {
    if config.recordTrace { trace.append(TraceLine(opIndex: i, text: text(), result: result())) }
  }
}
