// PeerClaim.swift — one user at a time for a peer whose state is the process's (a library's static heaps, or
// libmimalloc's main thread): ``PeerClaim/claim(_:)`` takes it for a named owner or says who has it, and
// ``PeerClaim/release()`` gives it back. Two users at once would see each other's blocks, so adapters and
// stress runs refuse to start instead. One lock; no other state.
import Synchronization

public final class PeerClaim: Sendable {
  private let holder = Mutex<String?>(nil)

  public init() {}

  /// Takes the peer for `owner`; false if another owner holds it.
  public func claim(_ owner: String) -> Bool {
    holder.withLock { h in
      guard h == nil else { return false }
      h = owner
      return true
    }
  }
  /// Who holds the peer now, if anyone.
  public var holderName: String? { holder.withLock { $0 } }
  public func release() { holder.withLock { $0 = nil } }
}
