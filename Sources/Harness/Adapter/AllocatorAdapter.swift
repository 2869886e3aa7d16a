// AllocatorAdapter.swift — the one interface through which the executor drives an allocator: the
// reference pymalloc today, real peers (CPython's obmalloc from libpython3, libmimalloc, glibc) later.
// Addresses are plain Ints here; only AllocUnderTest touches pointers. Optional capabilities (stats,
// invariants, block state) return nil where an allocator cannot answer, and the rules that need them skip.

import Oracle

public protocol AllocatorAdapter: AnyObject {
  /// Short name for traces ("pymalloc").
  var name: String { get }

  func malloc(_ n: UInt64) -> Int?
  func calloc(_ count: UInt64, _ size: UInt64) -> Int?
  func realloc(_ address: Int?, _ n: UInt64) -> Int?
  func free(_ address: Int?)

  /// Usable bytes of a live block.
  func usableSize(_ address: Int) -> Int
  /// Is `address` inside the small-object allocator's own memory (pymalloc: address_in_range)?
  func ownsSmall(_ address: Int) -> Bool
  /// Is the block at `address` currently handed out? nil when the allocator cannot tell.
  func isAllocated(_ address: Int) -> Bool?
  /// Faults injected by the platform layer so far (a growing counter).
  var injectedFaults: Int { get }

  /// Statistics in the oracle's terms, or nil if the allocator has none.
  func snapshot() -> StatsSnapshot?
  /// Statistics in the allocator's own text layout (pymalloc: `sys._debugmallocstats()`), or nil.
  func statsText() -> String?
  /// Invariant violations as (id, detail); empty when sound or unsupported.
  func checkInvariants() -> [(id: String, detail: String)]
  /// The invariants of the structures that hold `address` (pymalloc: its pool, its arena and the arena
  /// lists; mimalloc: its page and segment), in time independent of the allocator's size: what one op
  /// there could have broken. Empty when sound or unsupported (the default).
  func checkInvariants(around address: Int) -> [(id: String, detail: String)]
  /// The whole walk between ops: may reuse what an earlier walk or local check verified of structures no
  /// op has written since (mimalloc: pages whose fields are unchanged). The default is ``checkInvariants()``;
  /// the walks at the end of a program and of its teardown always call that one.
  func checkInvariantsBetweenOps() -> [(id: String, detail: String)]
  /// A counter that moves whenever an op changed allocator structures beyond what
  /// ``checkInvariants(around:)`` of its touched addresses covers (mimalloc: a page changing queues, a
  /// segment mapped or abandoned, a delayed list drained, …); the executor then runs the whole walk. nil
  /// (the default) when the adapter cannot tell: every op then counts as such a change.
  var structureEpoch: Int? { get }
  /// Bytes the platform layer has mapped right now.
  var mappedBytes: Int { get }

  /// Back to a fresh state (every block invalid).
  func reset()
}

import AllocUnderTest

extension AllocatorAdapter {
  public func checkInvariants(around address: Int) -> [(id: String, detail: String)] { [] }
  public func checkInvariantsBetweenOps() -> [(id: String, detail: String)] { checkInvariants() }
  public var structureEpoch: Int? { nil }
  /// Bytes of a live block (the executor has checked that the block is still owned).
  public func read(_ address: Int, count: Int) -> [UInt8] { MemoryAccess.readUnchecked(address: address, count: count) }
  /// Writes into a live block the program holds.
  public func write(_ address: Int, _ bytes: [UInt8]) { MemoryAccess.writeUnchecked(address: address, bytes: bytes) }

  /// The first invariant violation `oracle` wants, as a violation at op `i`: of the whole walk, or of the
  /// walk around `address` (named in the detail).
  /// `betweenOps`: the whole walk may reuse (``checkInvariantsBetweenOps()``).
  func invariantViolation(_ i: Int, around address: Int? = nil, _ oracle: OracleConfig, betweenOps: Bool = false) -> Violation? {
    guard let address else {
      for (id, detail) in betweenOps ? checkInvariantsBetweenOps() : checkInvariants() where oracle.wants(id) {
        return Violation(opIndex: i, rule: id, detail: detail)
      }
      return nil
    }
    for (id, detail) in checkInvariants(around: address) where oracle.wants(id) {
      return Violation(opIndex: i, rule: id, detail: detail + " (checked around \(hexString(address)))")
    }
    return nil
  }
}

/// Where a pool block sits, in terms both the reference and the real obmalloc record: the pool header's
/// arenaindex, the pool's slot in its arena and the block's offset in the pool (the differential's X2).
public struct BlockPlacement: Sendable, Equatable, CustomStringConvertible {
  public var arena: Int
  public var pool: Int
  public var offset: Int
  public init(arena: Int, pool: Int, offset: Int) {
    self.arena = arena
    self.pool = pool
    self.offset = offset
  }
  public var description: String { "arena \(arena) pool \(pool) +\(offset)" }
}

/// An allocator that can say where a pool block sits (pymalloc: the reference and CPython's).
public protocol PlacementReporting: AllocatorAdapter {
  /// nil for an address outside every arena.
  func placement(of address: Int) -> BlockPlacement?
}
