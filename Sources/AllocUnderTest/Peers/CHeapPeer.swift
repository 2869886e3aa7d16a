// CHeapPeer.swift — a C heap as a generic peer (issue 11): glibc's or jemalloc's malloc, calloc, realloc,
// free and malloc_usable_size, looked up in the peer's own library with dlsym (jemalloc is dlopen'ed with
// RTLD_LOCAL, so its symbols never replace the process's malloc). Only the pymalloc family's generic rules
// apply to it: there are no pools, statistics or invariants to read. One instance per library per process.
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

public final class CHeapPeer: @unchecked Sendable {
  // @unchecked: the function pointers are written once in init; the C heaps are thread-safe themselves.
  typealias Malloc = @convention(c) (UInt) -> UnsafeMutableRawPointer?
  typealias Calloc = @convention(c) (UInt, UInt) -> UnsafeMutableRawPointer?
  typealias Realloc = @convention(c) (UnsafeMutableRawPointer?, UInt) -> UnsafeMutableRawPointer?
  typealias Free = @convention(c) (UnsafeMutableRawPointer?) -> Void
  typealias UsableSize = @convention(c) (UnsafeMutableRawPointer?) -> UInt
  typealias AlignedAlloc = @convention(c) (UInt, UInt) -> UnsafeMutableRawPointer?

  public let kind: PeerKind
  let cMalloc: Malloc
  let cCalloc: Calloc
  let cRealloc: Realloc
  let cFree: Free
  let cUsable: UsableSize
  let cAlignedAlloc: AlignedAlloc

  private static let instances = Mutex<[PeerKind: Result<CHeapPeer, PeerUnavailable>]>([:])

  /// glibc's or jemalloc's heap, loaded on first use.
  public static func shared(_ kind: PeerKind) throws(PeerUnavailable) -> CHeapPeer {
    precondition(kind == .glibc || kind == .jemalloc, "CHeapPeer: \(kind) is not a C heap")
    let r: Result<CHeapPeer, PeerUnavailable> = instances.withLock { all in
      if let r = all[kind] { return r }
      let made: Result<CHeapPeer, PeerUnavailable>
      do throws(PeerUnavailable) { made = .success(try CHeapPeer(kind: kind, library: try PeerLibrary.open(kind))) } catch { made = .failure(error) }
      all[kind] = made
      return made
    }
    return try r.get()
  }

  private init(kind: PeerKind, library: PeerLibrary) throws(PeerUnavailable) {
    self.kind = kind
    cMalloc = try library.function("malloc", as: Malloc.self)
    cCalloc = try library.function("calloc", as: Calloc.self)
    cRealloc = try library.function("realloc", as: Realloc.self)
    cFree = try library.function("free", as: Free.self)
    cUsable = try library.function("malloc_usable_size", as: UsableSize.self)
    cAlignedAlloc = try library.function("aligned_alloc", as: AlignedAlloc.self)
  }

  /// What a C heap does with the calls a pymalloc-family program makes. Sizes above PY_SSIZE_T_MAX are
  /// passed through: C's malloc refuses them (ENOMEM) itself.
  public func malloc(_ n: UInt64) -> Int? { (unsafe cMalloc(UInt(n))).map { Int(bitPattern: $0) } }
  public func calloc(_ count: UInt64, _ size: UInt64) -> Int? { (unsafe cCalloc(UInt(count), UInt(size))).map { Int(bitPattern: $0) } }
  public func realloc(_ address: Int?, _ n: UInt64) -> Int? {
    (unsafe cRealloc(address.flatMap { UnsafeMutableRawPointer(bitPattern: $0) }, UInt(n))).map { Int(bitPattern: $0) }
  }
  /// C11 `aligned_alloc(alignment, n)` (the trace benchmark's aligned requests; glibc and jemalloc accept any
  /// size for a power-of-two alignment).
  public func alignedAlloc(_ n: UInt64, alignment: UInt64) -> Int? {
    (unsafe cAlignedAlloc(UInt(alignment), UInt(n))).map { Int(bitPattern: $0) }
  }
  public func free(_ address: Int?) { unsafe cFree(address.flatMap { UnsafeMutableRawPointer(bitPattern: $0) }) }
  public func usableSize(_ address: Int) -> Int { Int(unsafe cUsable(UnsafeMutableRawPointer(bitPattern: address))) }
}
