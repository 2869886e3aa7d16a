// RawAllocator.swift — the C-heap interface under CPython's RAW domain, and its glibc conformance.
//
// ``RawAllocator`` is what `PyMem_RawMalloc` and pymalloc's big-block fallback sit on (Objects/obmalloc.c,
// `_PyMem_RawMalloc` & co.). ``SystemRawAllocator`` forwards to glibc's malloc/calloc/realloc/free/
// malloc_usable_size with its own ``FaultInjector`` (consulted by malloc, calloc and realloc, never free) and
// keeps the set of live blocks, so a double or foreign free traps with a message instead of corrupting
// glibc. It passes sizes through unchanged: CPython's "0 means 1" rules belong to the Domains layer.
// Thread-safe (RAW allocators must be: the RAW domain is called without the GIL): state is under a `Mutex`.
// No `checkInvariants()`: ``SystemRawAllocator/liveBlocks`` is the size of a set, checked at each free.
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `malloc_usable_size` of the malloc this process links: glibc's, or AddressSanitizer's interceptor in the
/// OSS-Fuzz build. It is declared in `<malloc.h>`, which the Glibc module does not import, so it is bound by
/// name at link time (one pointer in, one word out: the same registers under the Swift and C conventions on
/// x86-64 and arm64) instead of adding a C shim for one function.
/// Subtle: it was once looked up with dlsym, which under ASan found glibc's function (the interceptor is not
/// exported) and read chunk headers ASan never wrote — 472 usable bytes for a malloc(600). Linking by name
/// picks the interceptor, which answers for ASan's own blocks.
@_silgen_name("malloc_usable_size")
func glibcMallocUsableSize(_ p: UnsafeMutableRawPointer?) -> Int

/// A C-style heap. Sizes are byte counts ≥ 0; nil means "no memory" and leaves the heap unchanged.
public protocol RawAllocator: AnyObject {
  /// A block of at least `size` bytes, or nil. `size` ≥ 0 (negative traps).
  func malloc(_ size: Int) -> UnsafeMutableRawPointer?
  /// A zeroed block of `count × size` bytes, or nil (also when the product overflows).
  func calloc(_ count: Int, _ size: Int) -> UnsafeMutableRawPointer?
  /// Resizes `p` (nil: like malloc). On nil with `size` > 0, `p` is still live and unchanged.
  func realloc(_ p: UnsafeMutableRawPointer?, _ size: Int) -> UnsafeMutableRawPointer?
  /// Frees a live block; nil is a no-op.
  func free(_ p: UnsafeMutableRawPointer?)
  /// Bytes usable in the live block `p` (≥ the size asked for).
  func usableSize(_ p: UnsafeMutableRawPointer) -> Int
  /// The fault plan for malloc, calloc and realloc.
  var faults: FaultInjector { get }
  var liveBlocks: Int { get }    // successful malloc/calloc/realloc(NULL) minus frees of non-NULL
}

/// glibc's heap behind a fault plan.
///
/// glibc behaviour passed through as is: `malloc(0)` returns a unique pointer; `calloc` whose
/// `count × size` overflows returns nil; `realloc(p, 0)` with `p` non-nil frees `p` and returns nil
/// (glibc malloc/malloc.c, `REALLOC_ZERO_BYTES_FREES`), which this class treats as a free: no fault is
/// consulted and ``liveBlocks`` drops by one.
public final class SystemRawAllocator: RawAllocator, Sendable {
  public let faults: FaultInjector
  /// Addresses of blocks returned and not yet freed. Invariant: `live.count == liveBlocks`.
  private let live = TSanVisibleMutex(Set<UInt>())

  public init(faults: FaultPlan = .never) {
    self.faults = FaultInjector(faults)
  }

  /// Successful malloc/calloc/realloc(nil) minus frees of non-nil pointers (including `realloc(p, 0)`).
  public var liveBlocks: Int { live.withLock { $0.count } }

  public func malloc(_ size: Int) -> UnsafeMutableRawPointer? {
    require(size >= 0, "malloc(\(size)): negative size")
    if faults.nextFailure() != nil { return nil }  // rare: injected ENOMEM
    return unsafe adopt(Glibc.malloc(size))
  }

  public func calloc(_ count: Int, _ size: Int) -> UnsafeMutableRawPointer? {
    require(count >= 0 && size >= 0, "calloc(\(count), \(size)): negative count or size")
    if faults.nextFailure() != nil { return nil }  // rare: injected ENOMEM
    return unsafe adopt(Glibc.calloc(count, size))  // glibc returns nil (ENOMEM) when count × size overflows
  }

  public func realloc(_ p: UnsafeMutableRawPointer?, _ size: Int) -> UnsafeMutableRawPointer? {
    let address = UInt(bitPattern: p)
    require(size >= 0, "realloc(\(hexAddress(address)), \(size)): negative size")
    guard let p = unsafe p else { return unsafe malloc(size) }  // realloc(NULL, n) is malloc(n), plan included
    if size == 0 {
      unsafe free(p)  // glibc's realloc(p, 0) frees p and returns NULL; do exactly that, visibly
      return nil
    }
    if faults.nextFailure() != nil {  // rare: injected ENOMEM; the block stays live and unchanged
      requireLive(address, in: "realloc")
      return nil
    }
    // Subtle: take p out of the live set *before* glibc may free it. Once glibc has it back another thread's
    // malloc can receive the same address, and its insert must not find p still there.
    disown(address, in: "realloc")
    guard let moved = unsafe Glibc.realloc(p, size) else {
      unsafe adopt(p)  // rare: a real ENOMEM; glibc left p allocated and unchanged
      return nil
    }
    return unsafe adopt(moved)
  }

  public func free(_ p: UnsafeMutableRawPointer?) {
    guard let p = unsafe p else { return }
    disown(UInt(bitPattern: p), in: "free")
    unsafe Glibc.free(p)
  }

  public func usableSize(_ p: UnsafeMutableRawPointer) -> Int {
    requireLive(UInt(bitPattern: p), in: "usableSize")
    return unsafe glibcMallocUsableSize(p)
  }

  // MARK: Live-set bookkeeping, by address

  /// Records a block glibc just returned (nil passes through).
  @discardableResult
  private func adopt(_ p: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let address = UInt(bitPattern: p)
    guard address != 0 else { return nil }
    let inserted = live.withLock { $0.insert(address).inserted }
    require(inserted, "glibc returned \(hexAddress(address)), which this SystemRawAllocator still counts as live")
    return unsafe p
  }

  /// Removes `address` from the live set; traps if it is not there.
  private func disown(_ address: UInt, in call: String) {
    let removed = live.withLock { $0.remove(address) }
    require(removed != nil, "\(call)(\(hexAddress(address))): not a live block of this SystemRawAllocator "
      + "(freed twice, or allocated elsewhere)")
  }

  private func requireLive(_ address: UInt, in call: String) {
    let isLive = live.withLock { $0.contains(address) }
    require(isLive, "\(call)(\(hexAddress(address))): not a live block of this SystemRawAllocator "
      + "(freed already, or allocated elsewhere)")
  }
}
