// MmapPageSource.swift — the Linux conformance of ``PageSource``: regions from anonymous `mmap`.
//
// ``MmapPageSource/reserve(bytes:alignment:)`` makes exactly one `sys_mmap` call. Alignments above the OS page
// are met by over-mapping `bytes + alignment` and unmapping the unaligned head and the tail (mimalloc's
// src/os.c `mi_os_prim_alloc_aligned` does the same when its direct attempt is misaligned). Page alignment is
// all CPython asks for, so pymalloc arenas land wherever mmap puts them, often not pool-aligned (intended).
// The source remembers its live regions, so a double release, a wrong size or a stray decommit traps instead
// of unmapping or zeroing someone else's memory; ``MmapPageSource/deinit`` unmaps whatever is still live.
// Thread-safe: the regions and counters are under one `Mutex`, the recycling bin under another. No `checkInvariants()`: the region list is checked by
// preconditions at every reserve, release and decommit.
//
// Recycling (``init(faults:recycle:recycleMaxBytes:)``, off by default): a released region (up to a size
// cap) goes to a small bin instead of `munmap`, and a later reserve of the same size takes it back, its touched pages zeroed (``zeroResident``)
// — so an allocator reset for every fuzz input does not pay for a fresh mapping and a page fault on every
// page it touches again. Everything a caller can see stays as without it: the memory is zeroed, the fault
// plan counts one call per reserve (and a failed call hands nothing out), and the counters count the
// reserve and the release. Under Valgrind nothing is recycled, so an access after release is still seen.
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

public final class MmapPageSource: PageSource, Sendable {
  /// One live region, `[base, base + bytes)`.
  private struct Region {
    var base: UInt
    var bytes: Int
    var end: UInt { base + UInt(bytes) }
  }

  private struct State {
    var stats = PageSourceStats()
    /// Live regions, sorted by base and pairwise disjoint. A region is here iff `reserve` returned it and
    /// `release` has not been called on it. Σ bytes == `stats.mappedBytes`.
    var regions: [Region] = []
    var lastError: SystemError?

    /// The number of regions whose base is ≤ `address`; the region that could contain `address` is the one
    /// just before that index.
    func countStarting(atOrBelow address: UInt) -> Int {
      var low = 0
      var high = regions.count
      while low < high {
        let mid = (low + high) / 2
        if regions[mid].base <= address { low = mid + 1 } else { high = mid }
      }
      return low
    }
  }

  /// Alignment slack that `munmap` refused to take back while trimming an over-mapping (usually none).
  private struct Stranded {
    var failedUnmaps = 0
    var bytes = 0
    var error: SystemError?
  }

  public let faults: FaultInjector
  private let state = TSanVisibleMutex(State())
  /// How many released regions the bin keeps (0: none, every release unmaps).
  private let recycleLimit: Int
  /// The largest region the bin keeps: a kept region stays resident until it is taken again, so a huge one
  /// (mimalloc's multi-GiB huge segments) is unmapped as without recycling.
  private let recycleMaxBytes: Int
  /// Released regions kept for reuse, most recent last; not in `State.regions`, not counted as mapped.
  private let bin = TSanVisibleMutex<[Region]>([])
  /// `State.stats.mappedBytes`, for ``mappedBytes``. Invariant: equal to it whenever the lock is free.
  private let mappedBytesCopy = Atomic<Int>(0)

  /// A source whose `sys_mmap` calls follow `faults` (one counted call per ``reserve(bytes:alignment:)``),
  /// keeping up to `recycle` released regions of at most `recycleMaxBytes` each for reuse (see the file
  /// comment).
  public init(faults: FaultPlan = .never, recycle: Int = 0, recycleMaxBytes: Int = 64 << 20) {
    self.faults = FaultInjector(faults)
    recycleLimit = Memcheck.active ? 0 : max(recycle, 0)
    self.recycleMaxBytes = recycleMaxBytes
  }

  /// Unmaps every region still live: the source owns its mappings, and allocators hold it strongly, so
  /// nothing can point into them any more. Keeps a fuzzer that builds a fresh allocator per input from
  /// leaking address space when an allocator never gives its arenas back.
  deinit {
    let leftovers = state.withLock { $0.regions } + bin.withLock { $0 }
    for region in leftovers {
      guard let base = unsafe UnsafeMutableRawPointer(bitPattern: region.base) else { continue }
      unsafe try? sys_munmap(base, length: region.bytes)  // rare failure (ENOMEM) just leaves the pages mapped
    }
  }

  /// The OS page size; `bytes` passed to this source must be a multiple of it.
  public static var pageSize: Int { osPageSize }

  public var stats: PageSourceStats { state.withLock { $0.stats } }

  /// `stats.mappedBytes` without the lock: a copy kept beside it, stored under the lock wherever the
  /// counter changes. Relaxed: read it with no reserve or release in flight (the executor reads it between
  /// ops), when it equals `stats.mappedBytes`.
  public var mappedBytes: Int { mappedBytesCopy.load(ordering: .relaxed) }

  /// The most recent failure the source absorbed: a refused or injected mmap, or a failed munmap/madvise.
  public var lastError: SystemError? { state.withLock { $0.lastError } }

  public func reserve(bytes: Int, alignment: Int) -> UnsafeMutableRawPointer? {
    require(bytes > 0 && bytes % osPageSize == 0,
                 "reserve(bytes: \(bytes)): bytes must be > 0 and a multiple of the \(osPageSize)-byte page")
    require(alignment >= 4096 && alignment & (alignment - 1) == 0,
                 "reserve(alignment: \(alignment)): alignment must be a power of two ≥ 4096")
    let base: UnsafeMutableRawPointer
    var stranded = Stranded()
    do throws(SystemError) {
      if let kept = takeRecycled(bytes: bytes, alignment: alignment) {
        // The call the mmap would have been: the plan counts it, and may fail it (the region goes back).
        if let injected = faults.nextFailure() {
          bin.withLock { $0.append(kept) }
          throw SystemError(errno: injected, call: "sys_mmap")
        }
        unsafe base = UnsafeMutableRawPointer(bitPattern: kept.base)!
        unsafe Self.zeroResident(base, bytes: bytes)
      } else if alignment <= osPageSize {
        unsafe base = try sys_mmap(length: bytes, injector: faults)  // mmap is page-aligned
      } else {
        unsafe (base, stranded) = try mapAligned(bytes: bytes, alignment: alignment)
      }
    } catch {
      // ENOMEM "No memory is available": the ordinary OOM the allocators must survive, so nil.
      // Any other errno (EAGAIN "too much memory has been locked", …) is not our bug either: nil as well,
      // and, like ENOMEM, kept in `lastError` for the report.
      state.withLock { s in
        s.stats.reserveCalls += 1
        s.stats.failedReserves += 1
        s.lastError = error
      }
      return nil
    }
    let region = Region(base: UInt(bitPattern: base), bytes: bytes)
    state.withLock { s in
      s.stats.reserveCalls += 1
      let i = s.countStarting(atOrBelow: region.base)
      require((i == 0 || s.regions[i - 1].end <= region.base)
                     && (i == s.regions.count || region.end <= s.regions[i].base),
                   "mmap returned \(hexAddress(region.base)) (\(bytes) bytes), which overlaps a region this source "
                     + "still holds: someone unmapped it behind the source's back")
      s.regions.insert(region, at: i)
      s.stats.mappedBytes += bytes
      mappedBytesCopy.store(s.stats.mappedBytes, ordering: .relaxed)  // under the lock: stores stay in order
      s.stats.peakMappedBytes = max(s.stats.peakMappedBytes, s.stats.mappedBytes)
      if let trimError = stranded.error {  // rare
        s.stats.failedUnmaps += stranded.failedUnmaps
        s.stats.strandedBytes += stranded.bytes
        s.lastError = trimError
      }
    }
    return unsafe base
  }

  /// Over-maps `bytes + alignment`, keeps the aligned `bytes` inside, and unmaps the head and the tail.
  private func mapAligned(
    bytes: Int, alignment: Int
  ) throws(SystemError) -> (base: UnsafeMutableRawPointer, stranded: Stranded) {
    // Subtle: `bytes + alignment` overflows only for absurd sizes (mimalloc #876 saw requests near 2^63).
    // That is an OOM, not a bug, so ENOMEM; no sys_mmap call is made, so the injector does not count it.
    let (span, overflow) = bytes.addingReportingOverflow(alignment)
    guard !overflow else { throw SystemError(errno: ENOMEM, call: #function) }
    let raw = unsafe try sys_mmap(length: span, injector: faults)
    // raw is page-aligned and alignment is a multiple of the page, so head and tail are whole pages:
    // head + bytes + tail == span, 0 ≤ head < alignment, tail == alignment − head > 0.
    let rawAddress = UInt(bitPattern: raw)
    let mask = UInt(alignment) - 1
    let head = Int(((rawAddress + mask) & ~mask) - rawAddress)
    let tail = span - head - bytes
    var stranded = Stranded()
    for (offset, length) in [(0, head), (head + bytes, tail)] where length > 0 {
      do throws(SystemError) {
        try unsafe sys_munmap(raw + offset, length: length)
      } catch {
        // rare: ENOMEM, splitting a merged mapping would pass vm.max_map_count. The aligned region is still
        // good; the slack stays mapped and is reported as stranded.
        stranded.failedUnmaps += 1
        stranded.bytes += length
        stranded.error = error
      }
    }
    return unsafe (raw + head, stranded)
  }

  public func release(_ base: UnsafeMutableRawPointer, bytes: Int) {
    let address = UInt(bitPattern: base)
    // Subtle: forget the region *before* munmap. Once the kernel has the range back another thread's mmap
    // may receive it, and its insert must not find a stale entry.
    state.withLock { s in
      let i = s.countStarting(atOrBelow: address) - 1
      require(i >= 0 && s.regions[i].base == address,
                   "release(\(hexAddress(address)), bytes: \(bytes)): not a live region of this MmapPageSource "
                     + "(released twice, or never reserved here)")
      require(s.regions[i].bytes == bytes,
                   "release(\(hexAddress(address)), bytes: \(bytes)): the region was reserved with "
                     + "\(s.regions[i].bytes) bytes")
      s.regions.remove(at: i)
      s.stats.releaseCalls += 1
      s.stats.mappedBytes -= bytes
      mappedBytesCopy.store(s.stats.mappedBytes, ordering: .relaxed)  // under the lock: stores stay in order
    }
    if recycleLimit > 0 && bytes <= recycleMaxBytes {
      let kept = bin.withLock { b -> Bool in
        guard b.count < recycleLimit else { return false }
        b.append(Region(base: address, bytes: bytes))
        return true
      }
      if kept { return }
    }
    do throws(SystemError) {
      try unsafe sys_munmap(base, length: bytes)
    } catch {
      // rare: ENOMEM "the process's maximum number of mappings would have been exceeded". The caller is done
      // with the range either way; count the bytes as stranded.
      state.withLock { s in
        s.stats.failedUnmaps += 1
        s.stats.strandedBytes += bytes
        s.lastError = error
      }
    }
  }

  /// A recycled region of exactly `bytes` whose base meets `alignment`, taken out of the bin; nil if none.
  private func takeRecycled(bytes: Int, alignment: Int) -> Region? {
    guard recycleLimit > 0 else { return nil }
    return bin.withLock { b in
      guard let k = b.lastIndex(where: { $0.bytes == bytes && $0.base % UInt(alignment) == 0 }) else { return nil }
      return b.remove(at: k)
    }
  }

  /// Zeroes the pages of `[base, base + bytes)` that are resident (the ones the last user touched); the
  /// others read as zero already. One `mincore` call, then a memset per touched page.
  private static func zeroResident(_ base: UnsafeMutableRawPointer, bytes: Int) {
    let pages = bytes / osPageSize
    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: pages) { vec in
      guard unsafe mincore(base, bytes, vec.baseAddress) == 0 else {
        unsafe base.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)  // rare: zero it all
        return
      }
      var k = 0
      while k < pages {
        guard vec[k] & 1 != 0 else { k += 1; continue }
        var end = k + 1
        while end < pages && vec[end] & 1 != 0 { end += 1 }
        unsafe (base + k * osPageSize).initializeMemory(as: UInt8.self, repeating: 0, count: (end - k) * osPageSize)
        k = end
      }
    }
  }

  public func decommit(_ base: UnsafeMutableRawPointer, bytes: Int) {
    let address = UInt(bitPattern: base)
    require(bytes > 0 && bytes % osPageSize == 0 && address % UInt(osPageSize) == 0,
                 "decommit(\(hexAddress(address)), bytes: \(bytes)): base and bytes must be page multiples, bytes > 0")
    state.withLock { s in
      let i = s.countStarting(atOrBelow: address) - 1
      require(i >= 0 && address + UInt(bytes) <= s.regions[i].end,
                   "decommit(\(hexAddress(address)), bytes: \(bytes)): the range is not inside one live region of this "
                     + "MmapPageSource")
      s.stats.decommitCalls += 1
    }
    do throws(SystemError) {
      try unsafe sys_madvise(base, length: bytes, advice: MADV_DONTNEED)
    } catch {
      // rare: EAGAIN "A kernel resource was temporarily unavailable"; the pages stay resident. Keep the
      // promise that the contents become zero by clearing them here, and record the errno.
      unsafe base.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
      state.withLock { $0.lastError = error }
    }
  }
}
