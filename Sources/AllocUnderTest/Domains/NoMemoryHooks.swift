// NoMemoryHooks.swift — `_testcapi.set_nomemory(start, stop)` / `remove_mem_hooks()` (Modules/_testcapi/
// mem.c, "inherited from the pyfailmalloc project"): hooks on all three domains that count every malloc,
// calloc and realloc (one counter for all domains) and fail those numbered in (start, stop] — for ever when
// stop ≤ 0. Installed once (a second set_nomemory only resets the counter); removing twice is harmless.
// Entry points: ``PyMemDomains/setNoMemory(start:stop:)``, ``PyMemDomains/removeMemHooks()``.

/// The `FmHook` / `FmData` state of one ``PyMemDomains``.
final class NoMemoryHooks {
  var start = 0
  var stop = 0
  /// `FmData.count`: allocation requests seen since the last ``PyMemDomains/setNoMemory(start:stop:)``.
  var count = 0
  /// `FmHook.raw/mem/obj`: the tables the hooks wrap; nil while not installed.
  var saved: [any BlockAllocator]? = nil

  /// `fm_nomemory`: counts one request; true if it must fail.
  func nomemory() -> Bool {
    count += 1
    return count > start && (stop <= 0 || count <= stop)
  }
}

extension PyMemDomains {
  /// `_testcapi.set_nomemory(start, stop)`: allocation requests number `start + 1` … `stop` fail (all
  /// after `start` if `stop ≤ 0`). The count restarts at 0 on every call.
  public func setNoMemory(start: Int, stop: Int = 0) {
    let state = noMemory ?? NoMemoryHooks()
    noMemory = state
    state.count = 0
    state.start = start
    state.stop = stop
    guard state.saved == nil else { return }  // `fm_setup_hooks`: already installed
    let saved = PyMemDomain.allCases.map { getAllocator($0) }
    state.saved = saved
    for d in PyMemDomain.allCases {
      let inner = saved[d.rawValue]
      setAllocator(d, PyMemAllocatorTable(
        name: "set_nomemory(\(d))", wrapping: inner,
        malloc: { _, n in state.nomemory() ? nil : inner.malloc(n) },
        calloc: { _, c, n in state.nomemory() ? nil : inner.calloc(c, n) },
        realloc: { _, p, n in state.nomemory() ? nil : inner.realloc(p, n) },
        free: { _, p in inner.free(p) }))
    }
  }

  /// `_testcapi.remove_mem_hooks()`: puts the saved tables back; a no-op when not installed.
  public func removeMemHooks() {
    guard let state = noMemory, let saved = state.saved else { return }
    state.saved = nil
    for d in PyMemDomain.allCases { setAllocator(d, saved[d.rawValue]) }
  }

  /// Allocation requests counted since the last ``setNoMemory(start:stop:)`` (0 if never called).
  public var noMemoryCount: Int { noMemory?.count ?? 0 }
}
