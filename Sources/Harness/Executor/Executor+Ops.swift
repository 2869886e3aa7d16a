// Executor+Ops.swift — performing one op and checking its own result: the allocation rules (O1 O2 O3 O8
// O12), calloc contents (O5), realloc contents and release (O6 O7), and the block's canary and ownership
// before it is freed or resized (O13, O4).

import AllocUnderTest
import Oracle

extension Executor {
  mutating func step(_ i: Int, _ op: Op, defines id: Int?) -> Violation? {
    touchedAddress = nil
    movedFrom = nil
    walkAfterOp = false
    switch op {
    case .malloc(let n):
      let before = adapter.injectedFaults
      let a = adapter.malloc(n)
      return allocated(i, id: id!, kind: .malloc, requested: n, address: a, fault: adapter.injectedFaults > before,
                       home: memHome, text: "p\(id!) = malloc(\(n))")
    case .calloc(let c, let s):
      let (product, overflow) = c.multipliedReportingOverflow(by: s)
      let before = adapter.injectedFaults
      let a = adapter.calloc(c, s)
      return allocated(i, id: id!, kind: .calloc(count: c, size: s), requested: overflow ? .max : product, address: a,
                       fault: adapter.injectedFaults > before, home: memHome, text: "p\(id!) = calloc(\(c), \(s))")
    case .realloc(let ref, let n):
      return reallocate(i, ref, n, id: id!)
    case .free(let ref):
      guard let ref, let b = live[ref.id] else {
        adapter.free(nil)
        record(i, "free(\(ref.map { "p\($0.id)" } ?? "NULL"))", "ok (NULL)")
        return nil
      }
      return freeBlock(i, b, teardown: false)
    default:
      preconditionFailure("step: \(op.kind.name) is a heaps-family op (heapStep runs it)")
    }
  }

  /// Heaps family: the current thread's mem (backing) heap; nil in the pymalloc family.
  var memHome: HeapIdentity? { heaps == nil ? nil : .tagged(thread: statics.current, tag: HeapTag.mem.rawValue) }

  mutating func freeBlock(_ i: Int, _ b: ModelBlock, teardown: Bool) -> Violation? {
    if let v = touch(i, b) { return v }
    adapter.free(b.address)
    live.remove(id: b.id)
    touchedAddress = b.address
    if config.recordTrace { record(i, "free(p\(b.id))" + (teardown ? "  # teardown" : "") + threadNote, "ok") }
    return nil
  }

  /// Before a block is freed or resized: still owned (O13), canary intact (O4).
  mutating func touch(_ i: Int, _ b: ModelBlock) -> Violation? {
    if rules.contains(.ownershipKept), let v = ContentRules.ownershipKept(opIndex: i, b, ownedNow: adapter.ownsSmall(b.address)) { return v }
    if b.small && !adapter.ownsSmall(b.address) { return nil }  // unmapped under us: reading would crash
    if rules.contains(.canary) { return canaryCheck(i, b) }
    return nil
  }

  mutating func allocated(_ i: Int, id: Int, kind: AllocationFacts.Kind, requested: UInt64, address: Int?, fault: Bool,
                          home: HeapIdentity? = nil, alignment: UInt64? = nil, text: @autoclosure () -> String) -> Violation? {
    var facts = AllocationFacts(opIndex: i, kind: kind, requested: requested, address: address,
                                usable: address.map { adapter.usableSize($0) },
                                servedSmall: address.map { adapter.ownsSmall($0) } ?? false, faultFired: fault)
    facts.alignment = alignment
    if fault {  // rare: under a fault plan
      faultEvents.append(FaultEvent(opIndex: i, returnedNull: address == nil, poolSized: config.oracle.geometry.isSmall(requested)))
    }
    if config.recordTrace { record(i, text() + threadNote, describe(facts)) }
    if config.observe {
      // libmimalloc 2.0.9 serves alignment 0 for small powers of two; 2.1.2 refuses it (V8): stop comparing.
      if heaps != nil, alignment == 0 { stopObserving(i, because: "an aligned allocation with alignment 0 (V8)") }
      if requested > plausibleRequestLimit && requested <= UInt64(Int.max) { stopObserving(i, because: Self.osDecides) }
      observeResult(i, address, moved: nil, aligned: alignment != nil)
    }
    if let v = allocationRules(facts) { return v }
    guard let a = address, requested <= UInt64(Int.max) else { return nil }
    var block = ModelBlock(id: id, address: a, requested: requested,
                           canarySeed: Canary.seed(forBlock: id, runSeed: config.runSeed), small: facts.servedSmall)
    block.home = home
    block.aligned = alignment != nil
    if case .calloc = kind, rules.contains(.callocZeroed),
       let v = callocCheck(i, id: id, a, count: block.length) {
      return v
    }
    live.insert(block)
    fillCanary(block)
    touchedAddress = a
    return membership(i, block)
  }

  mutating func reallocate(_ i: Int, _ ref: BlockRef?, _ n: UInt64, id: Int) -> Violation? {
    let old = ref.flatMap { live[$0.id] }
    if let old, let v = touch(i, old) { return v }
    let before = adapter.injectedFaults
    let a = adapter.realloc(old?.address, n)
    let facts = AllocationFacts(opIndex: i, kind: .realloc(old: old), requested: n, address: a,
                                usable: a.map { adapter.usableSize($0) },
                                servedSmall: a.map { adapter.ownsSmall($0) } ?? false,
                                faultFired: adapter.injectedFaults > before)
    if facts.faultFired {  // rare: under a fault plan; a raw block's realloc stays raw (never adopted)
      faultEvents.append(FaultEvent(opIndex: i, returnedNull: a == nil,
                                    poolSized: config.oracle.geometry.isSmall(n) && old?.small != false))
    }
    if config.recordTrace { record(i, "p\(id) = realloc(\(ref.map { "p\($0.id)" } ?? "NULL"), \(n))" + threadNote, describe(facts)) }
    if config.observe {
      if n > plausibleRequestLimit && n <= UInt64(Int.max) { stopObserving(i, because: Self.osDecides) }
      if heaps != nil, old?.aligned == true { stopObserving(i, because: "a realloc of a block made by an aligned allocation (V6)") }
      observeResult(i, a, moved: old.map { a != nil && $0.address != a })
    }
    guard let a else {
      if rules.contains(.nilOnlyWhereAllowed), let v = AllocationRules.nilOnlyWhereAllowed(facts) { return v }
      if let old { live.rename(id: old.id, to: id) }  // on failure the new name holds the old block
      return nil
    }
    if let old { live.remove(id: old.id) }
    if let v = allocationRules(facts) { return v }
    guard n <= UInt64(Int.max) else { return nil }
    let seed = old?.canarySeed ?? Canary.seed(forBlock: id, runSeed: config.runSeed)
    let inPlace = old.map { $0.address == a && $0.small && facts.servedSmall } ?? false
    var block = ModelBlock(id: id, address: a, requested: n, canarySeed: seed, small: facts.servedSmall,
                           classRequest: inPlace ? old!.classRequest : n)
    // A block resized in place stays in its heap; a moved one lands in the current thread's mem heap.
    block.home = old.map { $0.address == a } == true ? old!.home : memHome
    block.aligned = old?.aligned ?? false  // descends from an aligned allocation, moved or not (V6)
    var kept = 0
    if let old {
      if rules.contains(.reallocFreesOld),
         let v = ContentRules.reallocFreesOld(opIndex: i, old: old, newAddress: a, oldAllocated: adapter.isAllocated(old.address)) {
        return v
      }
      kept = min(old.length, block.length)
      if rules.contains(.reallocPrefix),
         let v = reallocPrefixCheck(i, old: old, newRequested: n, a, kept: kept) {
        return v
      }
    }
    live.insert(block)
    fillCanary(block, from: kept)
    touchedAddress = a
    if let old, old.address != a { movedFrom = old.address }
    return membership(i, block)
  }

  /// Why the differential stops at a request above 1 GiB (and at most PY_SSIZE_T_MAX): whether the OS lets an
  /// allocator reserve it decides the outcome (libmimalloc maps with MAP_NORESERVE, our page source without;
  /// seen: malloc(3,299,357,163,676) NULL on the reference and a block on libmimalloc), not the allocator.
  static let osDecides = "a request above 1 GiB, which the OS grants or refuses (plausibleRequestLimit)"

  /// O8, O1, O12, O3, O2 on one allocation result, in that order.
  func allocationRules(_ f: AllocationFacts) -> Violation? {
    AllocationRules.result(f, config.oracle.geometry, rules: rules) { a, n in
      live.overlapping(address: a, length: Int(clamping: n)).map { ($0.id, $0.address, $0.requested) }
    }
  }

  func describe(_ f: AllocationFacts) -> String {
    guard let a = f.address else { return f.faultFired ? "→ NULL (injected fault)" : "→ NULL" }
    if heaps != nil { return "→ \(hexString(a)) usable \(f.usable ?? 0)" }
    guard f.servedSmall else { return "→ \(hexString(a)) raw" }
    let g = config.oracle.geometry
    return "→ \(hexString(a)) pool \(hexString(a & ~(g.poolSize - 1))) +\(a & (g.poolSize - 1))"
  }

  /// Appends a trace line. Hot call sites test `config.recordTrace` first, so fuzzing builds no strings.
  mutating func record(_ i: Int, _ text: String, _ result: String) {
    if config.recordTrace { trace.append(TraceLine(opIndex: i, text: text, result: result)) }
  }
}
