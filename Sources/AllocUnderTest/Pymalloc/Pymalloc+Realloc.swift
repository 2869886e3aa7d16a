// Pymalloc+Realloc.swift — `_PyObject_Realloc` / `pymalloc_realloc`: keep a pool block in place when the
// new size still fits and wastes less than a quarter, else move it; never adopt a foreign block.
// Guarded by the oracle rules O6/O7 and ``Pymalloc/checkInvariants()``.

extension Pymalloc {
  func realloc(_ p: UnsafeMutableRawPointer?, _ n: Int) -> UnsafeMutableRawPointer? {
    guard let p else { return malloc(n) }
    guard owns(p.address) else {
      // Not ours: the raw allocator resizes it even when n ≤ 512. A system block is never adopted, because
      // nobody knows how many of its bytes are readable (obmalloc.c pymalloc_realloc, SF bug 1185883).
      return raw.realloc(p, n == 0 ? 1 : n)
    }
    var block = p
    if has(.misalignTinyBlocks) && p.address & 15 == 8 { block -= 8 }
    var size = PoolRef(containing: block).blockSize
    if has(.misalignTinyBlocks) && p != block { size -= 8 }
    if n <= size {
      // Shrinking (or same class): stay in place unless more than a quarter of the block would be wasted.
      if has(.reallocShrinkThresholdHalf) ? 2 * n > size : 4 * n > 3 * size { return p }
      size = n
    }
    // Case: growing, or shrinking a lot. On failure p stays valid and untouched.
    guard let q = malloc(n) else { return nil }
    if !has(.reallocSkipsCopy) { q.copyMemory(from: p, byteCount: size) }
    if !has(.reallocKeepsOldBlock) { free(p) }
    return q
  }
}
