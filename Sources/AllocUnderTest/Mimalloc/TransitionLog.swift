// TransitionLog.swift — the record of delayed-state changes that invariant MI3 (spec §4.6 I3) replays
// against the table of §4.2: ``DelayedTransition`` (one change: page, from, to, where) and
// ``DelayedTransitionLog`` (recent changes for tests, every forbidden one kept for MI3). Each change is
// judged when recorded, so a bounded buffer never hides a forbidden one. Thread-safe (one `Mutex`).
import Synchronization

/// One change of a page's delayed state, recorded right after the CAS that made it.
public struct DelayedTransition: Sendable, Equatable, CustomStringConvertible {
  /// Where the change happened.
  public enum Site: String, Sendable {
    /// Remote freer, first CAS (`_mi_free_block_mt`).
    case remoteFree
    /// Remote freer, after pushing on the heap list.
    case remoteFreeDone
    /// Owner draining its delayed list (`_mi_free_delayed_block`).
    case delayedFreeBlock
    /// Owner retargeting pages to another heap (`_mi_page_queue_append` in `mi_heap_absorb`).
    case absorb
    /// Owner abandoning a heap (`MI_ABANDON` collect).
    case abandon
    /// Owner destroying a heap (`_mi_heap_page_destroy`).
    case destroy
    /// A thread reclaiming an abandoned segment (`mi_segment_reclaim`, override_never).
    case reclaim
  }

  /// The page's span start address (stable while the page is used).
  public var page: Int
  public var from: UInt8
  public var to: UInt8
  public var site: Site

  init(page: Int, from: DelayedState, to: DelayedState, site: Site) {
    self.page = page
    self.from = UInt8(from.rawValue)
    self.to = UInt8(to.rawValue)
    self.site = site
  }

  /// §4.2: 0→1 and 1→2 by the remote freer; 2→0 by the owner (delayed-free drain, absorb); 0/2→3 by the
  /// owner (abandon, destroy); 3→0 only by reclaim. Everything else is forbidden.
  public var isAllowed: Bool {
    switch (from, to, site) {
    case (0, 1, .remoteFree), (1, 2, .remoteFreeDone): true
    case (2, 0, .delayedFreeBlock), (2, 0, .absorb): true
    case (0, 3, .abandon), (2, 3, .abandon), (0, 3, .destroy), (2, 3, .destroy): true
    case (3, 0, .reclaim): true
    default: false
    }
  }

  public var description: String { "page \(hex(page)): \(from) → \(to) at \(site.rawValue)" }
}

/// Recent transitions (a ring of `capacity`) plus every forbidden one (up to 64) since the last `clear()`.
public final class DelayedTransitionLog: Sendable {
  private struct State {
    var recent: [DelayedTransition] = []
    var next = 0
    var forbidden: [DelayedTransition] = []
    var total = 0
  }

  private let state = TSanVisibleMutex(State())
  public let capacity: Int

  public init(capacity: Int = 4096) {
    precondition(capacity > 0, "DelayedTransitionLog capacity must be positive")
    self.capacity = capacity
  }

  func record(_ t: DelayedTransition) {
    let allowed = t.isAllowed
    let cap = capacity
    state.withLock { s in
      s.total += 1
      if !allowed && s.forbidden.count < 64 { s.forbidden.append(t) }
      if s.recent.count < cap { s.recent.append(t) } else { s.recent[s.next] = t }
      s.next = (s.next + 1) % cap
    }
  }

  /// The most recent transitions, oldest first.
  public var recent: [DelayedTransition] {
    state.withLock { s in s.recent.count < capacity ? s.recent : Array(s.recent[s.next...] + s.recent[..<s.next]) }
  }

  /// Every forbidden transition recorded (at most 64 kept).
  public var forbidden: [DelayedTransition] { state.withLock { $0.forbidden } }

  /// Transitions recorded since the last clear.
  public var total: Int { state.withLock { $0.total } }

  public func clear() { state.withLock { $0 = State() } }
}
