// Mimalloc+Inspect.swift — questions the oracle asks by integer address: `mi_usable_size`,
// `mi_is_in_heap_region`-like ownership, a block's state and its heap. Addresses are checked against the
// live-segment registry first, so any integer is safe to ask about. Read-only; `blockState` and
// `heapOwning` need a quiescent allocator. Guarded by MI2 (the lists `blockState` walks).

extension Mimalloc {
  /// The used page holding `address`, for an address inside a live segment; nil otherwise.
  func livePage(containing address: UInt) -> MiPage? {
    guard let segment = liveSegment(containing: address),
          address >= segment.base + UInt(MiConst.infoSlices * MiConst.sliceSize) else { return nil }
    guard let page = segment.page(containing: address), page.isUsed, address >= page.pageStart,
          address < page.pageStart + UInt(page.reserved * page.blockSize) else { return nil }
    return page
  }

  /// Test hook: the page holding `address`.
  func _page(containing address: Int) -> MiPage? { livePage(containing: UInt(bitPattern: address)) }

  /// `mi_usable_size(p)`: the block size (release build, no padding) minus the offset of an aligned
  /// interior pointer; 0 for NULL or an address this allocator does not own.
  public func usableSize(_ address: Int) -> Int {
    let p = UInt(bitPattern: address)
    guard let page = livePage(containing: p) else { return 0 }
    return page.blockSize - Int(p - page.blockStart(of: p))
  }

  /// Is `address` inside the page area (past the info slice) of a live segment?
  public func owns(_ address: Int) -> Bool {
    let p = UInt(bitPattern: address)
    guard let segment = liveSegment(containing: p) else { return false }
    return p >= segment.base + UInt(MiConst.infoSlices * MiConst.sliceSize)
  }

  /// The state of the block holding `address` (an interior address answers for its block): on any free
  /// list — the page's `free`, `localFree` or remote list, or a delayed list of a heap of the owning thread
  /// (or of any live heap, for an abandoned page) — or at/beyond `capacity`, or in a free span: `.free`.
  public func blockState(_ address: Int) -> MiBlockState {
    let p = UInt(bitPattern: address)
    guard owns(address) else { return .notOwned }
    guard let page = livePage(containing: p) else { return .free }
    let block = page.blockStart(of: p)
    if !page.isBlock(block, below: page.capacity) { return .free }
    let (start, bsize, capacity) = (page.pageStart, UInt(page.blockSize), page.capacity)
    let end = start + UInt(capacity) * bsize
    for head in [page.free, page.localFree, page.threadFreeHead] {
      var b = head
      var steps = 0
      while b != 0 && steps <= capacity && b >= start && b < end && (b - start) % bsize == 0 {
        if b == block { return .free }
        b = MiBlock(b).next
        steps += 1
      }
    }
    let inLivePage = { (b: UInt) in self.livePage(containing: b) != nil }
    for heap in heapsThatMayHoldDelayedBlocks(of: page)
    where listContains(heap.delayedFreeHead, block, 1 << 20, inLivePage) {
      return .free
    }
    return .allocated
  }

  /// `page.xheap` of the page holding `address`: nil for abandoned pages and unowned addresses.
  public func heapOwning(_ address: Int) -> Heap? {
    guard let page = livePage(containing: UInt(bitPattern: address)) else { return nil }
    if has(.hugeNotContained) && page.segment.isHuge { return nil }  // seeded #587: heap-less huge blocks
    return page.heap
  }

  private func heapsThatMayHoldDelayedBlocks(of page: MiPage) -> [Heap] {
    if let owner = page.segment.ownerThread { return owner.heaps }
    return threads.filter(\.isAlive).flatMap(\.heaps)
  }

  /// Does the list starting at `head` contain `block`? Bounded walk; a link failing `valid` ends it.
  private func listContains(_ head: UInt, _ block: UInt, _ limit: Int, _ valid: (UInt) -> Bool) -> Bool {
    var b = head
    var steps = 0
    while b != 0 && steps < limit {
      if b == block { return true }
      guard valid(b) else { return false }
      b = MiBlock(b).next
      steps += 1
    }
    return false
  }
}
