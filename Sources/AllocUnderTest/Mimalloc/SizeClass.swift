// SizeClass.swift — size → bin, bin → block size, page kinds, page start offsets and large/huge sizing
// (mimalloc 2.1.2 src/page-queue.c `mi_bin`, src/init.c `MI_PAGE_QUEUES_EMPTY`, src/os.c
// `_mi_os_good_alloc_size`, src/segment.c `_mi_segment_page_start_from_slice` and `_mi_segment_page_alloc`).
// Pure functions; pinned by MimallocBinTests. No `checkInvariants()`: nothing here has state.
//
// Bins (64-bit, MI_MAX_ALIGN_SIZE 16): words w = ⌈n/8⌉; w ≤ 1 → 1; w ≤ 8 → w rounded up to even;
// w > 16384 → 73 (huge); else v = w − 1, b = bsr(v), bin = 4b + ((v >> (b−2)) & 3) − 3.
// Block words per bin: 1,1,2,3,4,5,6,7,8, 10,12,14,16, 20,24,28,32, … ×2 per 4 bins … 524288 (bin 72);
// bin 73 = 16385 words, bin 74 = 16386 words (markers of the huge and full queues).

enum SizeClass {
  /// `mi_bin(size)`: the queue index for a request of `size` bytes (`size` ≥ 0).
  static func bin(_ size: Int) -> Int {
    let w = (size + 7) / 8
    if w <= 1 { return 1 }
    if w <= 8 { return (w + 1) & ~1 }  // MI_ALIGN2W: round up to an even word count
    if w > MiConst.mediumObjWSizeMax { return MiConst.binHuge }
    let v = w - 1
    let b = Int.bitWidth - 1 - v.leadingZeroBitCount
    return 4 * b + ((v >> (b - 2)) & 3) - 3
  }

  /// Block size in bytes of queue `bin` (0...74), as the static queue table of src/init.c gives it.
  static func blockSize(ofBin bin: Int) -> Int {
    if bin <= 8 { return max(bin, 1) * 8 }
    if bin == MiConst.binHuge { return (MiConst.mediumObjWSizeMax + 1) * 8 }
    if bin == MiConst.binFull { return (MiConst.mediumObjWSizeMax + 2) * 8 }
    let b = (bin + 3) / 4
    let k = (bin + 3) % 4
    return ((1 << b) + (k + 1) << (b - 2)) * 8
  }

  /// `_mi_os_good_alloc_size`: round a large/huge request to 4 KiB below 512 KiB, 64 KiB below 2 MiB,
  /// 256 KiB below 8 MiB, 1 MiB below 32 MiB, else 4 MiB. Nil when rounding overflows.
  static func goodOSAllocSize(_ size: Int) -> Int? {
    let KiB = 1 << 10
    let MiB = 1 << 20
    let unit: Int
    switch size {
    case ..<(512 * KiB): unit = 4 * KiB
    case ..<(2 * MiB): unit = 64 * KiB
    case ..<(8 * MiB): unit = 256 * KiB
    case ..<(32 * MiB): unit = MiB
    default: unit = 4 * MiB
    }
    return alignUp(size, unit)
  }

  /// `_mi_segment_page_start_from_slice` start offset. 2.1.2: 3·bsize for 8 ≤ bsize ≤ 64, bsize for
  /// 64 < bsize ≤ 512, else 0 — a multiple of bsize, so power-of-two blocks stay naturally aligned.
  /// `legacy384` reproduces 2.0.9's 3·MI_MAX_ALIGN_GUARANTEE = 384 for 8 ≤ bsize ≤ 1024 (issue #700).
  static func pageStartOffset(blockSize bsize: Int, legacy384: Bool = false) -> Int {
    if legacy384 { return bsize >= 8 && bsize <= 1024 ? 3 * MiConst.maxAlignGuarantee : 0 }
    if bsize >= 8 && bsize <= 64 { return 3 * bsize }
    if bsize > 64 && bsize <= 512 { return bsize }
    return 0
  }

  /// Slices of a small, medium or large page for blocks of `bsize` (`mi_segments_page_alloc`): small
  /// pages are one slice, medium pages 8; a large page is `bsize` rounded up to 64 KiB when ≤ 512 KiB,
  /// else to a multiple of 512 KiB. Precondition: bsize ≤ 16 MiB.
  static func pageSlices(blockSize bsize: Int) -> Int {
    let required: Int
    if bsize <= MiConst.smallObjSizeMax { required = bsize }
    else if bsize <= MiConst.mediumObjSizeMax { required = MiConst.mediumPageSize }
    else { required = bsize }
    let unit = required > MiConst.mediumPageSize ? MiConst.mediumPageSize : MiConst.sliceSize
    return alignUp(required, unit)! / MiConst.sliceSize
  }

  /// `mi_slice_bin` (segment.c): the span-queue bin of a run of `slices` slices (0...35).
  static func spanBin(_ slices: Int) -> Int {
    if slices <= 1 { return slices }
    let c = slices - 1
    let s = Int.bitWidth - 1 - c.leadingZeroBitCount
    if s <= 2 { return c + 1 }
    return ((s << 2) | ((c >> (s - 2)) & 3)) - 4
  }
}

/// `x` rounded up to a multiple of `unit` (a power of two), or nil on overflow.
func alignUp(_ x: Int, _ unit: Int) -> Int? {
  let (sum, overflow) = x.addingReportingOverflow(unit - 1)
  return overflow ? nil : sum & ~(unit - 1)
}
