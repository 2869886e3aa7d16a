// DebugHooks+Realloc.swift — `_PyMem_DebugRawRealloc` (and `_PyMem_DebugRealloc`, GIL check first) of
// Objects/obmalloc.c: check the old block, erase and save its ends, call the wrapped *realloc* (not
// malloc + copy, bpo-31626), rewrite header and trailer, restore what was saved, and mark growth clean.
// Guarded by the DH3 tests and the seeded bugs `reallocNotRestoredOnFailure`, `reallocGrowthNotClean`.

extension DebugHooks {
  /// Subtle: before the wrapped realloc, a block of N ≤ 128 bytes is erased whole (header, data, trailer)
  /// and its data saved; a bigger one has only header + first 64 data bytes and last 64 data bytes +
  /// trailer erased (their data saved). Case 1, the wrapped realloc fails: header and trailer are rewritten
  /// for the *old* size, the saved bytes restored, nil returned — the block is as before. Case 2, success:
  /// header and trailer for the new size, saved bytes restored where they still fit, `[N, M)` filled with
  /// 0xCD. Free-threaded builds (3.13+) skip the erase/restore entirely.
  public func realloc(_ p: UnsafeMutableRawPointer?, _ nbytes: UInt) -> UnsafeMutableRawPointer? {
    guard checkGIL("_PyMem_DebugRealloc", raw: "_PyMem_DebugRawRealloc") else { return nil }
    guard let p else { return allocate(nbytes, calloc: false) }
    guard let old = checked(p, function: "_PyMem_DebugRawRealloc") else { return nil }
    let extra = settings.extraBytes
    let originalN = old.requestedSize
    guard nbytes <= pySsizeTMax - UInt(extra) else { return nil }  // after the check, as upstream
    let tail = DebugLayout.headerSize + originalN
    var serial = settings.serialNumbers ? old.readWord(at: tail + DebugLayout.sst) : 0

    let erased = DebugLayout.erasedSize
    var save: [UInt8] = []
    if settings.reallocErases {
      if originalN <= 2 * erased {
        save = old.bytes(DebugLayout.headerSize, count: originalN)
        old.fill(0, count: originalN + extra, with: DebugLayout.deadByte)
      } else {
        save = old.bytes(DebugLayout.headerSize, count: erased) + old.bytes(tail - erased, count: erased)
        old.fill(0, count: DebugLayout.headerSize + erased, with: DebugLayout.deadByte)
        old.fill(tail - erased, count: erased + extra - DebugLayout.headerSize, with: DebugLayout.deadByte)
      }
    }

    let moved = wrapped.realloc(old.base, nbytes + UInt(extra))
    let block = moved.map { DebugBlock(base: $0) } ?? old
    let n = moved == nil ? originalN : Int(nbytes)
    if moved != nil && settings.serialNumbers { serial = settings.bumpSerial() }
    decorate(block, size: n, serial: serial)

    if settings.reallocErases && !(moved == nil && bugs.contains(.reallocNotRestoredOnFailure)) {
      if originalN <= 2 * erased {
        block.write(save.prefix(min(n, originalN)), at: DebugLayout.headerSize)
      } else {
        let i = originalN - erased
        block.write(save.prefix(min(n, erased)), at: DebugLayout.headerSize)
        if n > i { block.write(save[erased..<(erased + min(n - i, erased))], at: DebugLayout.headerSize + i) }
      }
    }
    guard moved != nil else { return nil }  // Case 1
    if n > originalN && !bugs.contains(.reallocGrowthNotClean) {
      block.fill(DebugLayout.headerSize + originalN, count: n - originalN, with: DebugLayout.cleanByte)
    }
    return block.userPointer
  }
}
