// Mimalloc+PageInvariants.swift — MI1 (counts), MI2 (the page's lists) and MI4 (its delayed state) for one
// used page: shared by the whole walk (every used page, Mimalloc+Invariants.swift) and the local check (the
// touched page, Mimalloc+LocalInvariants.swift). Cost: O(free blocks of the page + its delayed blocks).

extension Mimalloc {
  /// List kinds as MI2 reports them: the mark a block gets for the list it was found on (1…3 walk in order).
  private static let listFree: UInt8 = 1, listLocalFree: UInt8 = 2, listRemote: UInt8 = 3, listDelayed: UInt8 = 4

  /// MI1, MI2 and MI4 for one used page. `delayed`: the blocks of this page found on live heaps' delayed
  /// lists (each already known to be a block below `capacity`).
  func checkPage(_ page: MiPage, delayed: ArraySlice<DelayedBlock>, sink: inout ViolationSink) {
    let failuresBefore = sink.failures
    page.passedCheck = nil
    defer {
      // Passed, with no delayed block to depend on: a later walk may reuse the verdict while the key holds.
      if sink.failures == failuresBefore && delayed.isEmpty { page.passedCheck = page.checkKey }
    }
    func name() -> String { "page \(hex(Int(bitPattern: page.pageStart))) bsize \(page.blockSize)" }
    guard page.blockSize > 1, page.reserved == page.areaSize / page.blockSize,
          page.used >= 0, page.used <= page.capacity, page.capacity <= page.reserved else {
      sink.fail("MI1", "\(name()): used \(page.used), capacity \(page.capacity), reserved \(page.reserved), area \(page.areaSize)")
      return
    }
    // Fields hoisted into locals: this loop visits every free block.
    let start = page.pageStart
    let bsize = UInt(page.blockSize)
    let capacity = page.capacity
    let bytes = UInt(capacity) * bsize
    // Block index by multiplying with the reciprocal and rounding (no division per block): exact at every
    // block boundary (the error is below index · 2^-52, far below 1/2), and any other offset then fails
    // `q · bsize == offset`.
    let reciprocal = 1.0 / Double(bsize)
    let memcheck = Memcheck.active  // read once: the annotated link load checks it per block
    let heads = (free: page.free, localFree: page.localFree, remote: page.threadFreeHead)
    // One mark per block below capacity, on the stack: 0 none, else the list it is on.
    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(capacity, 1)) { mark in
      mark.initialize(repeating: 0)
      var counts = (free: 0, localFree: 0)
      var listsOK = true
      for kind in Self.listFree...Self.listRemote {
        var b = kind == Self.listFree ? heads.free : kind == Self.listLocalFree ? heads.localFree : heads.remote
        var n = 0
        while b != 0 {
          // In the page's first `capacity` blocks, at a block boundary.
          let offset = b &- start
          let q = offset < bytes ? UInt(Double(offset) * reciprocal + 0.5) : 0
          guard b >= start, offset < bytes, q &* bsize == offset else {
            sink.fail("MI2", "\(name()): list \(kind) reaches \(hex(Int(bitPattern: b))), not a block below capacity \(capacity)")
            listsOK = false
            break
          }
          let i = Int(q)
          guard mark[i] == 0 else {
            sink.fail("MI2", "\(name()): block \(i) on list \(kind) is already on list \(mark[i]) (cycle or shared block)")
            listsOK = false
            break
          }
          mark[i] = kind
          n += 1
          b = memcheck ? MiBlock(b).next : MiBlock(b).nextWithoutMemcheck
        }
        if kind == Self.listFree { counts.free = n } else if kind == Self.listLocalFree { counts.localFree = n }
      }
      for entry in delayed {
        let i = Int((entry.block - start) / bsize)
        if mark[i] != 0 { sink.fail("MI2", "\(name()): delayed block \(i) is also on list \(mark[i])"); listsOK = false }
        mark[i] = Self.listDelayed
      }
      if listsOK && capacity != page.used + counts.free + counts.localFree {
        sink.fail("MI1", "\(name()): capacity \(capacity) != used \(page.used) + |free| \(counts.free) + |localFree| \(counts.localFree)")
      }
    }
    // MI4.
    let state = page.delayedState
    let heap = page.heap
    if state == .delayedFreeing { sink.fail("MI4", "\(name()): in state 1 with no free in flight") }
    if state == .noDelayedFree && !delayed.contains(where: { $0.heap === heap }) {
      sink.fail("MI4", "\(name()): state 2 but none of its blocks is on its heap's delayed list")
    }
    if (heap == nil) != (state == .neverDelayedFree) {
      sink.fail("MI4", "\(name()): xheap \(heap == nil ? "nil" : "set") but state \(state)")
    }
  }
}
