// Free.swift — `mi_free` as executed on one thread (§4.1; v2.1.2 src/alloc.c `mi_free`,
// `_mi_free_generic`, `_mi_free_block`): pointer → segment → page without locks, then the local path
// (this thread owns the segment) or the remote path (ThreadFree.swift). Guarded by MI1 and MI2.

extension MiThread {
  /// `mi_free(p)` executed on this thread. NULL is a no-op. Local iff this thread owns the block's segment
  /// (whichever of its heaps the page belongs to); otherwise — including an abandoned segment, thread id 0 —
  /// the remote protocol. An exited thread may still free (like a C thread after `mi_thread_done`, whose
  /// frees are always remote). Precondition: `address` is a live block of this allocator (or an aligned
  /// pointer into one); the harness checks ``Mimalloc/owns(_:)`` first.
  public func free(_ address: Int?) {
    guard let address, address != 0 else { return }
    let p = UInt(bitPattern: address)
    guard let segment = SegmentInfo.containing(p).segment, let page = segment.page(containing: p) else {
      require(false, "free(\(hex(address))): not inside a used page of a live segment")
      return
    }
    Memcheck.freed(page.blockStart(of: p), pool: page.pageStart)
    if segment.ownerId == id {  // relaxed load, see `MiSegment.ownerId`
      if !page.inFull && !page.hasAligned {
        freeLocal(page, MiBlock(p))  // usual: fast local free
      } else {
        freeLocal(page, MiBlock(page.blockStart(of: p)))  // `_mi_free_generic`: unalign, then unfull
      }
    } else if !isAlive && segment.isAbandoned && mimalloc.has(.reclaimOnFreeAfterExit),
              mimalloc.abandonedPool.remove(segment) {
      // Seeded #944: 2.1.4–2.1.7's reclaim-on-free, without 2.1.8's refusal for a thread that already ran
      // `mi_thread_done`: the dead thread adopts the segment, which is then never abandoned or freed again.
      _ = reclaim(segment, into: backing, requestedBlockSize: 0)
      if let page = segment.page(containing: p) { freeLocal(page, MiBlock(page.blockStart(of: p))) }
    } else if segment.isHuge && segment.isAbandoned && mimalloc.has(.abandonedHugeFreeLost) {
      return  // seeded (#691 class): the free of a huge block whose thread exited is lost
    } else {
      // Always unalign on a remote free: the owner may be writing `hasAligned` (race #865, fixed 2.1.4).
      page.freeFromOtherThread(MiBlock(page.blockStart(of: p)))
    }
  }

  /// `_mi_free_block(page, local: true, block)`: push on `localFree`, `used −= 1`; the last block retires
  /// the page, a block of a full page moves it back to its size queue.
  func freeLocal(_ page: MiPage, _ block: MiBlock) {
    block.next = page.localFree
    page.localFree = block.address
    if mimalloc.has(.blockPushedTwice) && page.blockSize == 96 {
      block.next = page.localFree  // seeded: the same block pushed again — a one-block cycle
    }
    if !(mimalloc.has(.usedNotDecremented) && page.blockSize == 48) { page.used -= 1 }
    guard let heap = page.heap else { return }  // rare: a seeded bug left the page without a heap
    if page.used == 0 {
      heap.retire(page)
    } else if page.inFull {
      heap.unfull(page)
    }
  }
}
