// Heap+Visit.swift — questions about a heap's blocks (§5; v2.1.2 src/heap.c `mi_heap_contains_block`,
// `mi_heap_check_owned`, `mi_heap_visit_blocks`; CPython's `_mi_heap_area_init` force-collect, #553).
// Read-mostly; `visitBlocks` collects pages as upstream does. Guarded by MI1/MI2 (what it walks).

/// The used page holding an address (or none), looked up once to ask several heaps
/// `Heap.contains(_: MiBlockLookup)` (the oracle asks every live heap about every live block).
/// Holds no reference: the oracle's sweep makes one per live block and asks every heap, and strong fields
/// cost a retain and a release per copy and per question. A lookup is used at once, while the allocator is
/// quiescent, so the page and heap it names outlive it (`unowned(unsafe)`, read only on seeded-bug paths);
/// the usual question compares identities.
public struct MiBlockLookup {
  unowned(unsafe) let page: MiPage?
  /// The page's `xheap`, read once.
  unowned(unsafe) let heap: Heap?
  /// `heap`'s identity, for the usual question.
  let heapID: ObjectIdentifier?

  init(page: MiPage?) {
    self.page = page
    let heap = page?.heap
    self.heap = heap
    heapID = heap.map(ObjectIdentifier.init)
  }
}

extension Mimalloc {
  /// The page lookup behind `mi_heap_contains_block`, for `Heap.contains(_: MiBlockLookup)`.
  public func lookup(_ address: Int) -> MiBlockLookup { MiBlockLookup(page: livePage(containing: UInt(bitPattern: address))) }
}

extension Heap {
  /// `mi_heap_contains_block`: true iff `address` lies in a used page whose `xheap` is this heap. False for
  /// abandoned pages and for addresses outside every live segment.
  public func contains(_ address: Int) -> Bool { contains(mimalloc.lookup(address)) }

  /// `mi_heap_contains_block` for an address already looked up (``Mimalloc/lookup(_:)``).
  public func contains(_ block: MiBlockLookup) -> Bool {
    guard block.heapID != nil else { return false }  // no used page there, or an abandoned one
    if has(.hugeNotContained), let page = block.page, page.segment.isHuge { return false }  // seeded #587
    if has(.containsAnyHeapOfThread) { return block.heap?.thread === thread }  // seeded
    return block.heapID == ObjectIdentifier(self)
  }

  /// `mi_heap_check_owned`: `address` is word-aligned and inside the first `capacity` blocks of one of this
  /// heap's pages (interior pointers count).
  public func checkOwned(_ address: Int) -> Bool {
    requireUsable("checkOwned")
    guard address & 7 == 0 else { return false }
    let p = UInt(bitPattern: address)
    var found = false
    forEachPage { page, _ in
      if p >= page.pageStart && p < page.pageStart + UInt(page.capacity * page.blockSize) { found = true }
    }
    return found
  }

  /// `mi_heap_visit_blocks(heap, all, visitor)` (CPython flavour): drain the delayed list partially; then for
  /// every page of every queue 0…74 (the full queue included), force-collect it (its remote and local frees
  /// merge into `free`, so `area.used` is exact), call `visitor(area, nil, bsize)`, and with `all` call
  /// `visitor(area, block, bsize)` for every allocated block. A visitor returning false stops the walk (the
  /// call then returns false). The visitor must not allocate or free.
  public func visitBlocks(all: Bool, _ visitor: (HeapArea, _ block: Int?, _ blockSize: Int) -> Bool) -> Bool {
    requireUsable("visitBlocks")
    mimalloc.structuresChanged()  // collects every page of the heap
    delayedFreePartial()
    let lastQueue = has(.visitSkipsFullQueue) ? MiConst.binFull - 1 : MiConst.binFull  // seeded
    for q in 0...lastQueue {
      for page in pages(inQueue: q) {
        page.collectFree(force: true)
        let bsize = page.blockSize
        let area = HeapArea(blocks: Int(bitPattern: page.pageStart), reserved: page.reserved * bsize,
                            committed: page.capacity * bsize, used: page.used, blockSize: bsize, fullBlockSize: bsize)
        guard visitor(area, nil, bsize) else { return false }
        guard all, page.used > 0 else { continue }
        var isFree = [Bool](repeating: false, count: page.capacity)
        for list in [page.free, page.localFree] {
          var b = list
          var steps = 0
          while b != 0 && steps <= page.capacity && page.isBlock(b, below: page.capacity) {
            isFree[Int((b - page.pageStart) / UInt(bsize))] = true
            b = MiBlock(b).next
            steps += 1
          }
        }
        for i in 0..<page.capacity where !isFree[i] {
          guard visitor(area, Int(bitPattern: page.pageStart + UInt(i * bsize)), bsize) else { return false }
        }
      }
    }
    return true
  }

  /// Σ `used` over this heap's pages: blocks handed out and not yet collected back, so it includes remote
  /// frees that the owner has not collected yet.
  public func usedBlocks() -> Int {
    var n = 0
    forEachPage { page, _ in n += page.used }
    return n
  }
}
