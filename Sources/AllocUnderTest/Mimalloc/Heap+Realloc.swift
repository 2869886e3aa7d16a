// Heap+Realloc.swift — `mi_heap_realloc` (§5; v2.1.2 src/alloc.c `_mi_heap_realloc_zero`): keep the block
// when the new size fits and wastes at most half; else allocate, copy, free the old block (on this heap's
// thread). Guarded by MI1/MI2 through the malloc and free it performs.

extension Heap {
  /// `mi_heap_realloc(heap, p, n)`: nil p → malloc(n). If `n ≤ usable(p)`, `n ≥ usable(p) / 2` and `n > 0`,
  /// p itself. Otherwise a new block (realloc(p, 0) gives a fresh minimal block with its first byte zeroed,
  /// #725), `min(usable, n)` bytes copied, p freed. Nil means failure and leaves p untouched.
  public func realloc(_ address: Int?, _ n: UInt64) -> Int? {
    requireUsable("realloc")
    guard n <= MiConst.maxAllocSize else { return nil }
    let newSize = Int(n)
    let size = address.map { mimalloc.usableSize($0) } ?? 0
    if newSize <= size && newSize >= size / 2 && newSize > 0 { return address }
    guard let q = allocate(size: newSize, zero: false) else { return nil }
    let block = MiBlock(q)
    if newSize == 0 { block.storeByte(0, at: 0) }
    if let address {
      block.copy(from: MiBlock(UInt(bitPattern: address)), count: min(size, newSize))
      thread.free(address)
    }
    return Int(bitPattern: q)
  }
}
