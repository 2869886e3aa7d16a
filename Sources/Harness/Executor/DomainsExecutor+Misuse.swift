// DomainsExecutor+Misuse.swift — the misuse ops of the domains family and rule D1. For each misuse the
// executor builds the block's ``MisuseSubject`` from what the program and the run know (domain, N, hooks,
// pool or C heap, whether the freed memory is still readable), asks ``MisusePrediction`` — the model's
// reasoning from the documented layout, written independently of the hooks — and compares its answer with
// the fatal errors the hooks actually produced. The Oracle target never imports AllocUnderTest, so the
// prediction is made here and only its line reaches ``DomainRules/diagnostic(opIndex:call:predicted:produced:)``.
//
// Outcomes: `fatal` — the run ends where CPython aborts (pass iff the produced line is the predicted one);
// `undetected` — no fatal may appear and the run goes on; `wildRead` — CPython's output is unpredictable:
// counted as such in ``Verdict/misuses``, and only "the model also stopped on a read of unknown memory" is
// checked; `outsideModel` — the harmful write is not performed, and counted.

import AllocUnderTest
import Oracle

extension DomainsExecutor {
  /// The block's situation for the predictor.
  func subject(_ b: DBlock, afterFree: FreedMemory = .stillMapped) -> MisuseSubject {
    let pool = statics.domains.configuration.pymallocBacks(b.domain) && !b.nested && !b.fellBack
    return MisuseSubject(domain: b.domain, size: b.size, hookedDomains: hooked ? Set(PyMemDomain.allCases) : [],
                         storage: pool ? .pymallocPool : .cHeap, afterFree: afterFree)
  }

  /// The state of `b`'s memory right after it was freed: readable (pool block in a live arena, quarantined
  /// C-heap block) or given back.
  func observedAfterFree(_ b: DBlock) -> FreedMemory {
    domains.readableRange(around: b.address! - 16) != nil ? .stillMapped : .givenBack
  }

  mutating func misuse(_ i: Int, _ op: DomainOp, operandFacts: DomainBlockFacts?) -> Violation? {
    if let ref = op.operand, let b = blocks[ref.id], b.address == nil, operandFacts?.isNull == false {
      // Rare: only under a fault plan, whose NULL the program did not foresee. Nothing to misuse.
      stopped = "\(op.text) not performed: an injected fault left p\(ref.id) NULL"
      return nil
    }
    let faults = adapter.injectedFaults
    let v = misuseOp(i, op)
    if adapter.injectedFaults > faults {
      // Rare: the fault hit the misuse's own probe allocation (malloc-then-free, malloc without the GIL),
      // which the prediction assumes succeeds: the run ends here, the comparison made void.
      faultEvents.append(FaultEvent(opIndex: i, returnedNull: false, poolSized: true, inMisuse: true))
      stopped = "\(op.text): an injected fault hit its probe allocation; the prediction assumes memory"
      comparisons.removeAll { $0.opIndex == i }
      return nil
    }
    return v
  }

  private mutating func misuseOp(_ i: Int, _ op: DomainOp) -> Violation? {
    switch op {
    case .writePastEnd(let ref, let count, let byte):
      return write(i, op, ref, at: blocks[ref.id]!.size, count: Int(count), byte: byte,
                   misuse: .writePastEnd(count: Int(count), byte: byte))
    case .writeBeforeStart(let ref, let count, let byte):
      return write(i, op, ref, at: -Int(count), count: Int(count), byte: byte,
                   misuse: .writeBeforeStart(count: Int(count), byte: byte))
    case .writeAfterFree(let ref, let offset, let byte):
      let b = blocks[ref.id]!
      guard Int(offset) < b.size else {
        // Rare: the program chose the offset for the size it asked for, but a realloc that failed (an
        // injected fault, or a refused size) left the old, smaller block under this name: the byte would
        // land past the block, in memory of the C heap or pool that nothing here owns.
        return notPerformed(i, op.text, "offset \(offset) is past p\(b.id)'s \(b.size) bytes (a failed realloc kept the old block)")
      }
      if let v = free(i, b, text: "\(b.domain.function("Free"))(p\(b.id))  # \(op.text), step 1") { return v }
      if stopped != nil { return nil }
      let predicted = MisusePrediction.predict(.writeAfterFree(offset: Int(offset), byte: byte), on: subject(b, afterFree: observedAfterFree(b)))
      if case .outsideModel(let why) = predicted { return notPerformed(i, op.text, why) }
      MemoryAccess.writeUnchecked(address: b.address! + Int(offset), bytes: [byte])
      // What would notice: the next allocation of that size through the domain (likely the same memory), freed.
      let before = adapter.producedCount
      adapter.risky(.mallocThenFree(b.domain, UInt64(b.size)))
      record(i, op.text, "written; malloc and free of \(b.size) bytes through \(b.domain) again")
      return settle(i, op.text, predicted, before: before)
    case .doubleFree(let ref), .reallocFreed(let ref, _):
      let b = blocks[ref.id]!
      if let v = free(i, b, text: "\(b.domain.function("Free"))(p\(b.id))  # \(op.text), step 1") { return v }
      if stopped != nil { return nil }
      let afterFree = observedAfterFree(b)
      if afterFree == .stillMapped, MemoryAccess.readUnchecked(address: b.address! - 8, count: 1) == [b.domain.apiID] {
        // The free left the API id in place (a hook bug D4 reports): the hooks would hand the block to its
        // backing a second time, which corrupts the backing itself. Not performed.
        stopped = "\(op.text) not performed: the first free left p\(b.id)'s API id intact, so the backing would free it twice"
        return nil
      }
      let misuse: Misuse
      let before = adapter.producedCount
      if case .reallocFreed(_, let n) = op {
        misuse = .reallocFreed(size: UInt(n))
        let q = adapter.risky(.realloc(b.domain, b.address, n))
        record(i, op.text, q.map { "→ \(hexString($0))" } ?? "→ NULL")
      } else {
        misuse = .doubleFree
        adapter.risky(.free(b.domain, b.address))
        record(i, op.text, "returned")
      }
      return settle(i, op.text, MisusePrediction.predict(misuse, on: subject(b, afterFree: afterFree)), before: before)
    case .freeWrongDomain(let ref, let other):
      let b = blocks[ref.id]!
      blocks[ref.id] = nil
      let predicted = MisusePrediction.predict(.freeThroughWrongDomain(other), on: subject(b))
      let before = adapter.producedCount
      adapter.risky(.free(other, b.address))
      record(i, op.text, "returned")
      let v = settle(i, op.text, predicted, before: before)
      if stopped != nil, adapter.producedCount > before { abandoned.append(b) }  // the hooks kept it
      return v
    case .freeForeign(let d):
      // A zeroed buffer of our own, freed at its middle and vouched for: what the hooks read around the
      // pointer is defined (zeros), so the outcome is exact, not a wild read.
      let size = MisusePrediction.foreignBufferSize
      let buffer = MemoryAccess.allocateForeign(count: size)
      foreign.append(buffer)
      domains.vouchReadable(buffer..<(buffer + size))
      let predicted = MisusePrediction.predict(.freeForeignInZeroedBuffer, on: MisuseSubject(
        domain: d, size: 0, hookedDomains: hooked ? Set(PyMemDomain.allCases) : [], storage: .cHeap, afterFree: .stillMapped))
      let before = adapter.producedCount
      adapter.risky(.free(d, buffer + MisusePrediction.foreignOffset))
      record(i, op.text, "returned")
      return settle(i, op.text, predicted, before: before)
    case .mallocWithoutGIL(let d, let n):
      // `Misuse.mallocWithoutGIL` carries no size: the wrapper's own refusal (DM2) is asked for separately.
      let predicted = MisusePrediction.refusedByWrapper(UInt(n))
        ? .undetected("PyMem_*Malloc returns NULL for a size above PY_SSIZE_T_MAX before the hooks' GIL check")
        : MisusePrediction.predict(.mallocWithoutGIL(d), on: MisuseSubject(
          domain: d, size: Int(min(n, DomainSizes.maxBlock)), hookedDomains: hooked ? Set(PyMemDomain.allCases) : [],
          storage: .cHeap, afterFree: .stillMapped))
      let before = adapter.producedCount
      let a = adapter.risky(.mallocWithoutGIL(d, n))  // a block it returns is freed again with the GIL
      record(i, op.text, a.map { "→ \(hexString($0)) (freed again with the GIL)" } ?? "→ NULL")
      return settle(i, op.text, predicted, before: before)
    default:
      preconditionFailure("misuse: \(op.kind.name) is a clean call")
    }
  }

  /// A write misuse: the bytes go in now; the hooks can only notice at the block's next free or realloc.
  mutating func write(_ i: Int, _ op: DomainOp, _ ref: BlockRef, at offset: Int, count: Int, byte: UInt8, misuse: Misuse)
    -> Violation? {
    var b = blocks[ref.id]!
    let saved = MemoryAccess.readUnchecked(address: b.address! + offset, count: count)
    MemoryAccess.writeUnchecked(address: b.address! + offset, bytes: Array(repeating: byte, count: count))
    b.pending = PendingWrite(misuse: misuse, op: i, text: op.text, offset: offset, saved: saved)
    blocks[ref.id] = b
    record(i, op.text, "written; checked by p\(b.id)'s next free or realloc")
    return nil
  }

  /// The check of a pending write misuse, by the free or realloc that just ran (`call`).
  mutating func checked(_ i: Int, _ b: DBlock, _ pending: PendingWrite, by: CheckingCall,
                        call: String, before: Int) -> Violation? {
    let predicted = MisusePrediction.predict(pending.misuse, on: subject(b), checkedBy: by)
    return settle(i, "\(call) after \(pending.text) at op \(pending.op)", predicted, before: before)
  }

  /// Records that the harmful part of a misuse was not performed (beyond the model); the run goes on.
  mutating func notPerformed(_ i: Int, _ call: String, _ why: String) -> Violation? {
    comparisons.append(MisuseComparison(opIndex: i, call: call, predicted: "outside the model: \(why)",
                                        produced: "not performed", status: .outsideModel))
    record(i, call, "not performed (outside the model: \(why))")
    return nil
  }

  /// D1 for a misuse: compares the fatal errors since `before` with `predicted` and decides whether the run
  /// goes on. Any fatal error, and any predicted one, ends the run (CPython would have aborted).
  mutating func settle(_ i: Int, _ call: String, _ predicted: MisuseOutcome, before: Int) -> Violation? {
    let errors = Array(adapter.produced[before...])
    let produced = errors.map(\.fatalLine)
    let shown = produced.first ?? "no fatal error"
    let d1 = rules.contains(.diagnosticPredicted)
    switch predicted {
    case .undetected(let note):
      comparisons.append(MisuseComparison(opIndex: i, call: call, predicted: "no fatal error (\(note))", produced: shown,
                                          status: .compared, producedFatal: errors.first))
      if !produced.isEmpty { stopped = "fatal error where none was predicted: \(shown)" }
      return d1 ? DomainRules.diagnostic(opIndex: i, call: call, predicted: nil, produced: produced) : nil
    case .fatal(let line, _, let dumpMayCrash):
      if dumpMayCrash, errors.count == 1, errors[0].diedInDump {
        // A real CPython read the bogus size the prediction warned about and faulted before the line.
        comparisons.append(MisuseComparison(opIndex: i, call: call, predicted: line, produced: shown, status: .diedInDump,
                                            dumpMayCrash: true, producedFatal: errors[0]))
        stopped = "CPython died in the dump before \"\(line)\", as the prediction allows"
        return nil
      }
      comparisons.append(MisuseComparison(opIndex: i, call: call, predicted: line, produced: shown, status: .compared,
                                          dumpMayCrash: dumpMayCrash, producedFatal: errors.first))
      stopped = produced == [line] ? "CPython aborts here, as predicted: \(line)"
        : "predicted \"\(line)\", produced \(shown): the run cannot go on"
      return d1 ? DomainRules.diagnostic(opIndex: i, call: call, predicted: line, produced: produced) : nil
    case .wildRead(let why):
      comparisons.append(MisuseComparison(opIndex: i, call: call, predicted: "unpredictable (wild read: \(why))",
                                          produced: shown, status: .wildRead, producedFatal: errors.first))
      stopped = "CPython's check reads unknown memory here (\(why)); no exact comparison possible"
      // A real process performed the read (any outcome is CPython's own); a model must have stopped there.
      guard d1, adapter.modelsWildReads, !(errors.count == 1 && errors[0].involvesWildRead) else { return nil }
      return Violation(opIndex: i, .diagnosticPredicted,
                       "\(call): predicted a check that reads unknown memory (\(why)); the model's hooks produced \(shown)")
    case .outsideModel(let why):
      return notPerformed(i, call, why)
    }
  }
}
