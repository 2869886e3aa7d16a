// SharedWord.swift — ``SharedWord``, the one wrapper through which the mimalloc reference touches a word
// that several threads share: `page.xthreadFree`, `page.xheap`, `heap.threadDelayedFree`,
// `segment.threadId`. Each access is a yield point first (Platform/Interleaving.swift), then the plain
// `Synchronization.Atomic` access with the ordering the caller names. Outside a controlled scheduler the
// yield point is one never-taken branch; the orderings and their pairings are documented where they are
// used (ThreadFree.swift, Segment.swift).
import Synchronization

struct SharedWord: ~Copyable, Sendable {
  private let word: Atomic<UInt>

  init(_ value: UInt) { word = Atomic(value) }

  // `Atomic` wants each ordering as a literal, so the wrapper spells out the ones it forwards; inlined with
  // the caller's literal, the comparisons fold away and one plain atomic instruction is left.

  @inline(__always) func load(ordering: AtomicLoadOrdering) -> UInt {
    Interleaving.point(.load)
    if ordering == .relaxed { return word.load(ordering: .relaxed) }
    if ordering == .acquiring { return word.load(ordering: .acquiring) }
    return word.load(ordering: .sequentiallyConsistent)
  }

  @inline(__always) func store(_ value: UInt, ordering: AtomicStoreOrdering) {
    Interleaving.point(.store)
    if ordering == .relaxed { return word.store(value, ordering: .relaxed) }
    if ordering == .releasing { return word.store(value, ordering: .releasing) }
    word.store(value, ordering: .sequentiallyConsistent)
  }

  /// Supported pairs: (relaxed, relaxed), (releasing, relaxed), (acquiring, acquiring),
  /// (acquiringAndReleasing, acquiring), (sequentiallyConsistent, sequentiallyConsistent).
  @inline(__always) func weakCompareExchange(
    expected: UInt, desired: UInt, successOrdering: AtomicUpdateOrdering, failureOrdering: AtomicLoadOrdering
  ) -> (exchanged: Bool, original: UInt) {
    Interleaving.point(.cas)
    switch (successOrdering, failureOrdering) {
    case (.relaxed, .relaxed):
      return word.weakCompareExchange(expected: expected, desired: desired, successOrdering: .relaxed, failureOrdering: .relaxed)
    case (.releasing, .relaxed):
      return word.weakCompareExchange(expected: expected, desired: desired, successOrdering: .releasing, failureOrdering: .relaxed)
    case (.acquiring, .acquiring):
      return word.weakCompareExchange(expected: expected, desired: desired, successOrdering: .acquiring, failureOrdering: .acquiring)
    case (.acquiringAndReleasing, .acquiring):
      return word.weakCompareExchange(expected: expected, desired: desired, successOrdering: .acquiringAndReleasing,
                                      failureOrdering: .acquiring)
    case (.sequentiallyConsistent, .sequentiallyConsistent):
      return word.weakCompareExchange(expected: expected, desired: desired, successOrdering: .sequentiallyConsistent,
                                      failureOrdering: .sequentiallyConsistent)
    default:
      preconditionFailure("SharedWord: unsupported ordering pair (\(successOrdering), \(failureOrdering))")
    }
  }
}
