// LibMimallocStress.swift — the stress runner's hook for libmimalloc 2.0.9 (real OS threads calling the real
// library). The conformance itself comes with the libmimalloc peer (branch peer-mimalloc); until it lands,
// `--allocator mimalloc` says so like any peer that cannot be loaded.

import AllocUnderTest

public enum LibMimallocStress {
  public static func make() throws(PeerUnavailable) -> any StressAllocator {
    throw PeerUnavailable(peer: .mimalloc, reason: "the libmimalloc stress conformance is not built yet")
  }
}
