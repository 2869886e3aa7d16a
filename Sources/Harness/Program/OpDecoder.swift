// OpDecoder.swift — the only place fuzz bytes become ops: ``OpDecoder/decodePymalloc(_:maxOps:)`` turns
// any byte string into a valid ``Program`` of the "pymalloc family v1" format, and
// ``OpDecoder/decodeHeaps(_:maxOps:)`` into one of the "heaps family v1" format (logical threads and heaps). It never rejects input:
// reads past the end count as 0, tags ignore their upper six bits, and refs are taken modulo the live
// count, so a free uses up its pointer the way Hypothesis's `consumes` does. The inverse is ``OpEncoder``;
// the byte layout is drawn in Documentation/ProgramFormat.md and frozen there.

import AllocUnderTest

/// Decodes fuzz bytes into op programs.
///
/// Op layout (`[x]` is one byte, `size` a size field of ``SizeTable``, `ref` two bytes LE):
///
///     [tag & 3 == 0]  size           malloc(size)
///     [tag & 3 == 1]  size  size     calloc(count, size)
///     [tag & 3 == 2]  ref   size     realloc(ref, size)
///     [tag & 3 == 3]  ref            free(ref)
///
/// Ref field `v`: NULL iff `v == 0xFFFF` or no id is live; otherwise `live[v % live.count]`, where `live`
/// lists the unconsumed ids in definition order before this op.
public enum OpDecoder {
  /// The ref-field value that always means NULL.
  public static let nullRef: UInt16 = 0xFFFF

  /// Decodes `bytes` until a tag byte is needed and none is left, or `maxOps` ops have been decoded.
  /// Total: accepts every byte string, never traps, and always returns a valid program.
  public static func decodePymalloc(_ bytes: some Collection<UInt8>, maxOps: Int = Int.max) -> Program {
    pymallocBody(bytes, maxOps: maxOps)
  }

  /// The same for an array, the fuzz targets' input: specialized here, so a caller in another module runs no
  /// unspecialized generic code (runtime metadata look-ups per field).
  public static func decodePymalloc(_ bytes: [UInt8], maxOps: Int = Int.max) -> Program {
    pymallocBody(bytes, maxOps: maxOps)
  }

  @inline(__always)
  static func pymallocBody(_ bytes: some Collection<UInt8>, maxOps: Int) -> Program {
    let opLimit = max(maxOps, 0)
    var input = FieldReader(bytes.makeIterator())
    var live = Program.LiveList(capacity: min(bytes.count, opLimit))
    var ops: [Op] = []
    ops.reserveCapacity(min(bytes.count, opLimit))

    while ops.count < opLimit, let tag = input.tag() {
      let op = input.pymallocOp(Op.Kind(rawValue: tag & 3)!, live: live)  // all four values of tag & 3 are kinds
      if let used = op.usedRef { live.remove(used.id) }
      if op.isAllocating { live.appendNext() }
      ops.append(op)
    }
    return Program(ops)
  }

  /// Decodes `bytes` as the heaps family v1 (Documentation/ProgramFormat.md): the tag's low four bits
  /// are the ``Op/Kind`` raw value. Operands that must name something pick it modulo what exists:
  ///
  ///     thread byte     live threads in id order
  ///     heap byte       mem, object, gc, gc_pre, then the current thread's live heap_new heaps
  ///                     (heap_destroy / heap_delete: the heap_new heaps only)
  ///     force byte      bit 0
  ///     alignment       b < 0x40: 1 << (b % 26); otherwise a size field follows with the exact value
  ///
  /// An op that cannot be valid where it stands decodes as a neighbour that can: `exit` on t0 and a
  /// `spawn` at the live-thread limit become `quiescent`, `heap_destroy`/`heap_delete` with no heap_new
  /// heap on the current thread become `heap_new` (their heap byte is still read), and a `heap_new` beyond the per-thread heap limit
  /// becomes `quiescent`. Total: every byte string gives a valid program.
  public static func decodeHeaps(_ bytes: some Collection<UInt8>, maxOps: Int = Int.max) -> Program {
    heapsBody(bytes, maxOps: maxOps)
  }

  /// The same for an array (the fuzz targets' input), specialized here.
  public static func decodeHeaps(_ bytes: [UInt8], maxOps: Int = Int.max) -> Program {
    heapsBody(bytes, maxOps: maxOps)
  }

  @inline(__always)
  static func heapsBody(_ bytes: some Collection<UInt8>, maxOps: Int) -> Program {
    let opLimit = max(maxOps, 0)
    var input = FieldReader(bytes.makeIterator())
    var live = Program.LiveList(capacity: min(bytes.count, opLimit))
    var state = ProgramState()
    var ops: [Op] = []

    func heap() -> HeapRef {
      let mine = state.liveHeaps(ownedBy: state.current)
      let choice = Int(input.byte()) % (HeapTag.allCases.count + mine.count)
      return choice < HeapTag.allCases.count ? .tagged(HeapTag.allCases[choice]) : .made(mine[choice - HeapTag.allCases.count])
    }
    func madeHeap() -> HeapRef? {
      let mine = state.liveHeaps(ownedBy: state.current)
      let b = Int(input.byte())
      return mine.isEmpty ? nil : .made(mine[b % mine.count])
    }
    func canMakeHeap() -> Bool { state.liveHeaps(ownedBy: state.current).count < ProgramState.maxLiveHeapsPerThread }
    func alignment() -> UInt64 {
      let b = input.byte()
      return b < 0x40 ? 1 << UInt64(b % 26) : input.size()
    }

    while ops.count < opLimit, let tag = input.tag() {
      let op: Op
      let kind = Op.Kind(rawValue: tag & 15)!
      switch kind {
      case .malloc, .calloc, .realloc, .free: op = input.pymallocOp(kind, live: live)
      case .spawn: op = state.liveThreadCount < ProgramState.maxLiveThreads ? .spawn : .quiescent
      case .switchThread:
        let threads = state.liveThreads
        op = .switchThread(ThreadRef(threads[Int(input.byte()) % threads.count]))
      case .exitThread: op = state.current == 0 ? .quiescent : .exitThread
      case .heapNew: op = canMakeHeap() ? .heapNew : .quiescent
      case .heapDestroy: op = madeHeap().map { .heapDestroy($0) } ?? (canMakeHeap() ? .heapNew : .quiescent)
      case .heapDelete: op = madeHeap().map { .heapDelete($0) } ?? (canMakeHeap() ? .heapNew : .quiescent)
      case .heapCollect:
        let h = heap()
        op = .heapCollect(h, force: input.byte() & 1 == 1)
      case .heapVisit: op = .heapVisit(heap())
      case .heapMalloc:
        let h = heap()
        op = .heapMalloc(h, size: input.size())
      case .heapMallocAligned:
        let h = heap()
        let n = input.size()
        op = .heapMallocAligned(h, size: n, alignment: alignment())
      case .collect: op = .collect(force: input.byte() & 1 == 1)
      case .quiescent: op = .quiescent
      default: preconditionFailure("tag & 15 names a heaps-family kind")
      }
      Self.track(op, state: &state, live: &live, index: ops.count)
      ops.append(op)
    }
    return Program(ops)
  }

  /// Applies a valid `op` to the decoder's (or encoder's) state and live list: consumed blocks leave the
  /// list (a destroyed heap's with it), a defined block joins it.
  static func track(_ op: Op, state: inout ProgramState, live: inout Program.LiveList, index: Int) {
    let dying = op.kind == .heapDestroy ? state.blocksByHome[.made(op.usedHeap!.madeID!)] ?? [] : []
    do { try state.apply(op, at: index) } catch { preconditionFailure("heaps codec built an invalid op: \(error)") }
    if let used = op.usedRef { live.remove(used.id) }
    for b in dying.sorted() { live.remove(b) }
    if op.isAllocating { live.appendNext() }
  }
}

/// The field layer shared by both families: a byte iterator whose reads past the end give 0, size fields
/// (``SizeTable``), ref fields (two bytes LE over a live list) and the four pymalloc-kind ops, which the
/// heaps family spells exactly as the pymalloc family does.
struct FieldReader<Input: IteratorProtocol<UInt8>> {
  private var input: Input

  init(_ input: Input) { self.input = input }

  /// The next tag byte, or nil at the end of the input.
  mutating func tag() -> UInt8? { input.next() }
  /// The next field byte; 0 past the end.
  mutating func byte() -> UInt8 { input.next() ?? 0 }
  mutating func size() -> UInt64 { SizeTable.decodeSizeField { byte() } }

  /// NULL iff the field is 0xFFFF or nothing is live; otherwise `live[v % live.count]`.
  mutating func ref(_ live: Program.LiveList) -> BlockRef? {
    let v = UInt16(byte()) | UInt16(byte()) << 8
    guard v != OpDecoder.nullRef, !live.isEmpty else { return nil }
    return BlockRef(live.id(at: Int(v) % live.count))
  }

  /// The fields of a malloc, calloc, realloc or free. Precondition: `kind.isPymallocKind`.
  mutating func pymallocOp(_ kind: Op.Kind, live: Program.LiveList) -> Op {
    switch kind {
    case .malloc:
      return .malloc(size: size())
    case .calloc:
      let count = size()
      return .calloc(count: count, size: size())
    case .realloc:
      let old = ref(live)
      return .realloc(old, size: size())
    case .free:
      return .free(ref(live))
    default:
      preconditionFailure("\(kind.name) is not a pymalloc-family op")
    }
  }
}
