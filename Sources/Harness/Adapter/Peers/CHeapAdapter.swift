// CHeapAdapter.swift — the `glibc` and `jemalloc` peers: pymalloc-family programs on a C heap, used the way
// CPython's RAW domain uses one (Objects/obmalloc.c `_PyMem_RawMalloc` & co.): a request of 0 bytes asks C
// for 1, so malloc(0) and calloc(0, n) return a block and realloc(p, 0) resizes instead of freeing. Only the
// generic rules apply (O1–O8): no pools, statistics or invariants. jemalloc serves 8-byte requests from
// 8-byte-aligned slots, so its alignment geometry is mimalloc's (``SmallObjectGeometry/mimalloc``).

import AllocUnderTest
import Oracle

public final class CHeapAdapter: AllocatorAdapter {
  public let peer: CHeapPeer
  public var name: String { peer.kind.rawValue }
  private var live = LiveAddresses()

  public init(_ kind: PeerKind) throws(PeerUnavailable) {
    peer = try CHeapPeer.shared(kind)
  }

  deinit { freeEverything() }

  public func malloc(_ n: UInt64) -> Int? { live.record(peer.malloc(n == 0 ? 1 : n)) }
  public func calloc(_ c: UInt64, _ s: UInt64) -> Int? { live.record(c == 0 || s == 0 ? peer.calloc(1, 1) : peer.calloc(c, s)) }
  public func realloc(_ a: Int?, _ n: UInt64) -> Int? {
    guard let r = peer.realloc(a, n == 0 ? 1 : n) else { return nil }
    return live.moved(from: a, to: r)
  }
  public func free(_ a: Int?) {
    live.forget(a)
    peer.free(a)
  }
  public func usableSize(_ a: Int) -> Int { peer.usableSize(a) }
  public func ownsSmall(_ a: Int) -> Bool { false }
  public func isAllocated(_ a: Int) -> Bool? { nil }
  public var injectedFaults: Int { 0 }
  public var mappedBytes: Int { 0 }
  public func snapshot() -> StatsSnapshot? { nil }
  public func statsText() -> String? { nil }
  public func checkInvariants() -> [(id: String, detail: String)] { [] }
  public func reset() { freeEverything() }

  private func freeEverything() { for a in live.drain() { peer.free(a) } }
}
