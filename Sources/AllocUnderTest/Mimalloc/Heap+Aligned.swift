// Heap+Aligned.swift — aligned allocation (§3.9; v2.1.2 src/alloc-aligned.c `mi_heap_malloc_aligned`,
// `mi_heap_malloc_zero_aligned_at`, `mi_heap_malloc_zero_aligned_at_fallback`), offset 0 only.
// Guarded by MI1/MI2 (an aligned block is an ordinary block with `hasAligned` set on its page).

extension Heap {
  /// `mi_heap_malloc_aligned(heap, n, alignment)`: nil unless `alignment` is a power of two (> 0), or when
  /// `n` > PTRDIFF_MAX. Free the result (an interior pointer when the block had to move) with `free`.
  public func mallocAligned(_ n: UInt64, alignment: Int) -> Int? {
    requireUsable("mallocAligned")
    guard alignment > 0, alignment & (alignment - 1) == 0, n <= MiConst.maxAllocSize else { return nil }
    let size = Int(n)
    // No-padding fast path: a power-of-two size ≥ alignment and ≤ 1024 is naturally aligned, because page
    // starts are multiples of the block size (2.1.2 start offsets; broken by 2.0.9's 384, #700).
    if size & (size - 1) == 0 && size >= alignment && size <= MiConst.smallSizeMax {
      return allocate(size: size, zero: false).map { Int(bitPattern: $0) }
    }
    return alignedAt(size: size, alignment: alignment, zero: false).map { Int(bitPattern: $0) }
  }

  /// `mi_heap_malloc_zero_aligned_at(…, offset: 0)`: take the next free block of the small size queue if it
  /// happens to be aligned, else the fallback.
  private func alignedAt(size: Int, alignment: Int, zero: Bool) -> UInt? {
    if size <= MiConst.smallSizeMax && alignment <= size,
       let page = queues[queueIndex(forSize: size)].first, page.hasFree,
       page.free & UInt(alignment - 1) == 0 {
      return pop(page, zero: zero)
    }
    return alignedFallback(size: size, alignment: alignment, zero: zero)
  }

  /// `mi_heap_malloc_zero_aligned_at_fallback`: (1) sizes ≤ 128 that are a multiple of the alignment are
  /// naturally aligned; (2) alignments > 16 MiB get a huge segment whose block point is aligned
  /// (size ≤ 1024 becomes 1025 to force the generic path); (3) otherwise over-allocate `size + alignment − 1`
  /// and round up, marking the page `hasAligned` when the pointer moved.
  private func alignedFallback(size: Int, alignment: Int, zero: Bool) -> UInt? {
    if alignment <= size && size <= MiConst.maxAlignGuarantee && size & (alignment - 1) == 0 {
      return allocate(size: size, zero: zero)
    }
    let p: UInt
    if alignment > MiConst.alignmentMax {
      let oversize = size <= MiConst.smallSizeMax ? MiConst.smallSizeMax + 1 : size
      guard let q = mallocGeneric(size: oversize, zero: false, hugeAlignment: alignment) else { return nil }
      p = q
    } else {
      let (oversize, overflow) = size.addingReportingOverflow(alignment - 1)
      guard !overflow, let q = allocate(size: oversize, zero: zero) else { return nil }
      p = q
    }
    if has(.alignedIgnoresAlignment) { return p }  // seeded: the over-allocation is never aligned
    let mask = UInt(alignment - 1)
    let aligned = (p + mask) & ~mask
    if aligned != p, let page = mimalloc.livePage(containing: p) { page.hasAligned = true }
    if zero && alignment > MiConst.alignmentMax { MiBlock(aligned).zero(count: mimalloc.usableSize(Int(bitPattern: aligned))) }
    return aligned
  }
}
