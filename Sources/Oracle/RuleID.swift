// RuleID.swift — the named oracle rules, each with a stable id, level and cost (style R29). Ids never
// change meaning; a retired rule keeps its number. Invariant ids of the allocators (PM2…) are separate
// and come from `checkInvariants()`; both kinds appear in a ``Violation``.

/// One oracle rule. The doc comment of each case says which bug it catches.
public enum RuleID: String, CaseIterable, Sendable, Codable, CustomStringConvertible {
  /// O1 (L1, O(1)) every non-NULL result is 16-byte aligned (mimalloc: 8 for requests ≤ 8; aligned
  /// allocation: the requested alignment). Catches pointer arithmetic slips in carving.
  case alignment = "O1"
  /// O2 (L1, O(log n)) a new block overlaps no live block. Catches a block handed out twice, bad carving.
  case nonOverlap = "O2"
  /// O3 (L1, O(1)) usable size ≥ requested size. Catches size-class off-by-one.
  case usableSize = "O3"
  /// O4 (L2, O(bytes)) canary bytes written by the harness are intact. Catches the allocator writing into
  /// live blocks (free-list links, neighbours, fills).
  case canary = "O4"
  /// O5 (L1, O(bytes)) calloc memory reads as zero. Catches reuse of a dirty block without memset.
  case callocZeroed = "O5"
  /// O6 (L1, O(bytes)) realloc keeps min(old, new) bytes of content. Catches a move without copy.
  case reallocPrefix = "O6"
  /// O7 (L1, O(pool)) after a moving realloc the old block is no longer allocated. Catches leaks in realloc.
  case reallocFreesOld = "O7"
  /// O8 (L1, O(1)) NULL only for impossible sizes or an injected OS failure, and always for sizes above
  /// PY_SSIZE_T_MAX or an overflowing calloc. Catches spurious failures and missing size checks.
  case nilOnlyWhereAllowed = "O8"
  /// O9 (L2, O(classes)) per-class blocks in use and bytes in allocated blocks equal what the model's
  /// live blocks imply. Catches lost or double-counted blocks and stats miscounts.
  case statsMatchModel = "O9"
  /// O10 (L2, O(classes + arenas)) statistics are self-consistent: pools × blocks/pool = in use + avail,
  /// used pools fit in the arenas, Total = arenas × ARENA_SIZE. Catches stats and pool accounting bugs.
  case statsConsistent = "O10"
  /// O11 (L2, O(arenas)) memory is given back: at most one arena has no used pool; with no small block
  /// live at most one arena stays. Catches arenas never returned to the OS.
  case memoryGivenBack = "O11"
  /// O12 (L1, O(1)) routing: 1…512-byte requests are served from pools (unless the OS refused an arena),
  /// 0 and > 512 by the raw allocator, and realloc never adopts a raw block. Catches fallback slips.
  case routing = "O12"
  /// O13 (L2, O(live)) every live pool block is still inside a live arena (checked before any byte of it
  /// is read). Catches an arena released while it still holds blocks.
  case ownershipKept = "O13"
  // Heaps family (issue 3): first-class heaps, logical threads, cross-thread frees.
  /// H1 (L2, O(heaps)) every live block is contained (mi_heap_contains_block) by exactly the heap the model
  /// says holds it; a block of an exited thread by at most one heap, never a heap_new heap. Catches pages
  /// filed under the wrong heap and reclaim into a heap that must not reclaim.
  case heapMembership = "H1"
  /// H2 (L2, O(live)) heap_destroy frees every block of the heap and no other: afterwards none of its blocks
  /// is allocated and every other live block still is. Catches destroy leaking pages or freeing foreign blocks.
  case destroyFreesAll = "H2"
  /// H3 (L2, O(blocks moved)) heap_delete moves the heap's blocks to the thread's backing heap. Catches
  /// pages left pointing at the deleted heap.
  case deleteMovesToBacking = "H3"
  /// H4 (L2, O(heap)) heap_visit reports exactly the heap's live blocks, each with its usable size.
  /// Catches walks that skip a queue (the full queue) or report free blocks.
  case visitExact = "H4"
  /// H5 (L2, O(live)) a heap's used-block count is never below its live blocks, and after its owner
  /// collects with force it equals them: cross-thread frees are reclaimed. Catches dropped remote frees.
  case remoteFreesReclaimed = "H5"
  /// H6 (L2, O(1)) no block is lost: blocks in use (Σ page used) ≥ live blocks always, and 0 once every
  /// block is freed and every thread has collected (abandoned segments reclaimed). Catches lost frees.
  case noBlockLost = "H6"
  /// H7 (L2, O(1)) bounded footprint: once everything is freed, every thread quiescent and collected, no
  /// segment stays mapped. Catches leaked pages and segments (QSBR holds, abandoned segments).
  case footprintBounded = "H7"
  // Domains family (issue 4): PyMem domains and debug hooks. The executor gets the predictions of D1 from
  // AllocUnderTest's `MisusePrediction` (the Oracle never imports it) and hands plain strings over.
  /// D1 (L1, O(1)) diagnostics: the fatal line the debug hooks print equals the predicted one, and a call
  /// predicted clean prints none (a mismatch in either direction, or different text, is a violation).
  /// Catches hooks that skip a check (API id, pads, GIL) or check in the wrong order.
  case diagnosticPredicted = "D1"
  /// D2 (L1, O(1)) layout: a hooked block has N big-endian at p-16, its domain's API id at p-8, 0xFD at
  /// p-7…p-1 and p[N…N+7]; a pymalloc block that fell back to RAW sits inside a RAW header. Catches header
  /// and pad slips and a fallback that bypasses RAW.
  case hookLayout = "D2"
  /// D3 (L1, O(N)) fresh data: hooked malloc data reads 0xCD, calloc data zero, realloc growth 0xCD.
  /// Catches missing clean fills and a calloc filled like malloc.
  case freshFill = "D3"
  /// D4 (L1, O(N)) dead bytes: right after a hooked free, the block (id, pads, data, serial) reads 0xDD
  /// wherever it is still readable. Catches a free that leaves the block as it was.
  case deadFill = "D4"
  /// D5 (L1, O(1)) serial numbers (PYMEM_DEBUG_SERIALNO): each hooked allocation's serial is larger than
  /// every earlier one. Catches a serial that is never bumped.
  case serialBumped = "D5"
  /// D6 (L2, O(N)) contents kept: bytes the program wrote stay until free, through a moving, failed or
  /// in-place realloc. Catches a failed realloc that leaves its erased bytes dead.
  case contentKept = "D6"
  /// D7 (L1, O(1)) configuration: `_PyMem_GetCurrentAllocatorName()` names what the program configured
  /// (`pymalloc_debug` after `setup_debug_hooks()` on pymalloc). Catches hooks installed twice.
  case allocatorName = "D7"
  /// D8 (L1, O(1)) NULL iff refused: a domain call gives NULL exactly for sizes above PY_SSIZE_T_MAX,
  /// an overflowing calloc or a request no allocator can serve (2^62 and up). Catches RAW passing size 0
  /// to C (realloc(p, 0) then frees p).
  case nullIffRefused = "D8"
  // Differential rules (issue 11): the same program on the reference and on a real allocator, compared op
  // by op after both passed their own rules. The harness records one observation per compared fact; the
  // first pair that differs is the divergence. A fidelity bug in the reference (PymallocBug.isFidelityBug,
  // MimallocBug fidelity cases) is caught by these alone.
  /// X1 (L1, O(1)) same outcome: both NULL or both a block, from the pools or the raw allocator on both,
  /// a realloc in place or moved on both. Catches a changed in-place threshold or routing limit.
  case sameOutcome = "X1"
  /// X2 (L1, O(1)) same placement: a pool block lands in the same arena (arenaindex), pool slot and offset
  /// in the pool. Catches a changed free-list or pool-reuse order.
  case samePlacement = "X2"
  /// X3 (L2, O(arenas)) same arenas: after every op the same number of arenas, each with the same used,
  /// free and total pools. Catches a changed arena release or sort policy.
  case sameArenas = "X3"
  /// X4 (L2, O(classes)) same statistics: the `_PyObject_DebugMallocStats` text is byte-identical after
  /// every op. Catches a stats printer that drifts from CPython's.
  case sameStatistics = "X4"
  /// X5 (L1, O(1)) same usable size: mi_usable_size of each new block is the same (the same bin).
  /// Catches a changed bin table or size rounding.
  case sameUsableSize = "X5"
  /// X6 (L2, O(heap)) same heap walk: heap_visit reports the same program blocks of that heap (orphans of
  /// exited threads left out: where they land differs by version, MimallocVersions.md V7).
  case sameHeapWalk = "X6"
  /// X7 (L1, O(dump)) same diagnostic: the debug hooks' fatal line and dump text equal the real CPython's.
  /// Catches a message, order or dump format the reference hooks get wrong.
  case sameDiagnostic = "X7"

  public var description: String { rawValue }

  /// Rules that only the heaps family checks (they need a ``HeapIdentity`` per block).
  public var isHeapRule: Bool { rawValue.hasPrefix("H") }
  /// Differential rules: compared between the reference and a real peer (``Differential``), never alone.
  public var isDifferentialRule: Bool { rawValue.hasPrefix("X") }
  /// Rules that only the domains family checks (DomainRules.swift).
  public var isDomainRule: Bool { rawValue.hasPrefix("D") }
  /// Rules that only pymalloc's geometry and statistics make sense for.
  public var isPymallocOnly: Bool { [.statsMatchModel, .statsConsistent, .memoryGivenBack, .routing].contains(self) }

  /// A one-line title for traces and reports.
  public var title: String {
    switch self {
    case .alignment: "result aligned to 16"
    case .nonOverlap: "no overlap with live blocks"
    case .usableSize: "usable size ≥ request"
    case .canary: "canary bytes intact"
    case .callocZeroed: "calloc memory zeroed"
    case .reallocPrefix: "realloc keeps the prefix"
    case .reallocFreesOld: "moving realloc frees the old block"
    case .nilOnlyWhereAllowed: "NULL only where allowed"
    case .statsMatchModel: "statistics match the model"
    case .statsConsistent: "statistics self-consistent"
    case .memoryGivenBack: "memory given back"
    case .routing: "small/raw routing"
    case .ownershipKept: "live pool blocks stay owned"
    case .heapMembership: "each block in exactly its heap"
    case .destroyFreesAll: "destroy frees its blocks and no other"
    case .deleteMovesToBacking: "delete moves blocks to the backing heap"
    case .visitExact: "visit reports exactly the live blocks"
    case .remoteFreesReclaimed: "cross-thread frees reclaimed on collect"
    case .noBlockLost: "no block lost"
    case .footprintBounded: "footprint bounded after collect"
    case .diagnosticPredicted: "hook diagnostic equals the prediction"
    case .hookLayout: "debug header and pads laid out"
    case .freshFill: "new data clean (0xCD) or zero"
    case .deadFill: "freed block dead (0xDD)"
    case .serialBumped: "serial numbers increase"
    case .contentKept: "written bytes kept until free"
    case .allocatorName: "allocator name matches configuration"
    case .nullIffRefused: "NULL iff the request is refused"
    case .sameOutcome: "same outcome as the real allocator"
    case .samePlacement: "same pool placement as the real allocator"
    case .sameArenas: "same arenas as the real allocator"
    case .sameStatistics: "same statistics text as the real allocator"
    case .sameUsableSize: "same usable size as the real allocator"
    case .sameHeapWalk: "same heap walk as the real allocator"
    case .sameDiagnostic: "same diagnostic text as the real allocator"
    }
  }
}

/// The first broken rule of a run: which op, which rule (an oracle ``RuleID`` raw value or an allocator
/// invariant id such as "PM4"), and the numbers.
public struct Violation: Sendable, Equatable, Hashable, CustomStringConvertible {
  public var opIndex: Int
  public var rule: String
  public var detail: String

  public init(opIndex: Int, rule: String, detail: String) {
    self.opIndex = opIndex
    self.rule = rule
    self.detail = detail
  }
  public init(opIndex: Int, _ rule: RuleID, _ detail: String) {
    self.init(opIndex: opIndex, rule: rule.rawValue, detail: detail)
  }

  public var description: String { "op \(opIndex): \(rule) \(RuleID(rawValue: rule)?.title ?? "invariant"): \(detail)" }
}
