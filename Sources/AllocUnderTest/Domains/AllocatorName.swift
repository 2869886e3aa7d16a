// AllocatorName.swift — `PYTHONMALLOC`: which names a build accepts (`_PyMem_GetAllocatorName`) and which
// allocator then backs each domain (`set_up_allocators_unlocked`, `set_default_allocator_unlocked` with
// `PYRAW_ALLOC`/`PYMEM_ALLOC`/`PYOBJ_ALLOC`), all in Objects/obmalloc.c; the error text is
// Python/preconfig.c `preconfig_init_allocator`. Entry points: ``PyMemAllocatorName/parse(_:for:)``,
// ``DomainPlan/plan(for:build:)``. Pure values; the tests pin the whole name × build table.

/// `PyMemAllocatorName` without `NOT_SET` (an empty name means `default`, as in `_PyMem_GetAllocatorName`).
public enum PyMemAllocatorName: String, CaseIterable, Sendable, Codable {
  case `default` = "default"
  case debug = "debug"
  case malloc = "malloc"
  case mallocDebug = "malloc_debug"
  case pymalloc = "pymalloc"
  case pymallocDebug = "pymalloc_debug"
  case mimalloc = "mimalloc"
  case mimallocDebug = "mimalloc_debug"

  /// `_PyMem_GetAllocatorName`: "" and "default" → default; pymalloc names need WITH_PYMALLOC and a GIL
  /// build; mimalloc names need WITH_MIMALLOC (3.13+); malloc names need a GIL build. Anything else is
  /// the startup error of `preconfig_init_allocator`.
  public static func parse(_ name: String, for build: PyBuild) throws(PyMemConfigError) -> PyMemAllocatorName {
    if name.isEmpty { return .default }
    guard let parsed = PyMemAllocatorName(rawValue: name) else { throw .unknownAllocator(name) }
    let accepted: Bool
    switch parsed {
    case .default, .debug: accepted = true
    case .pymalloc, .pymallocDebug: accepted = build.pymallocUsable
    case .mimalloc, .mimallocDebug: accepted = build.withMimalloc
    case .malloc, .mallocDebug: accepted = !build.freeThreaded
    }
    guard accepted else { throw .unknownAllocator(name) }
    return parsed
  }
}

/// What backs one domain, before any hooks.
public enum BackingKind: Sendable, Hashable, Codable, CustomStringConvertible {
  /// `MALLOC_ALLOC` (C malloc through ``MallocBacking``).
  case malloc
  /// `PYMALLOC_ALLOC` (``PymallocBacking``; its big requests go through the RAW domain).
  case pymalloc
  /// `MIMALLOC_ALLOC` / `MIMALLOC_OBJALLOC` (supplied by a ``MimallocBackingProvider``).
  case mimalloc(MimallocHeap)

  public var description: String {
    switch self {
    case .malloc: "malloc"
    case .pymalloc: "pymalloc"
    case .mimalloc(.mem): "mimalloc"
    case .mimalloc(.object): "mimalloc (object heap)"
    }
  }
}

/// The allocator table for one configuration: a backing per domain and whether the debug hooks wrap
/// all three (CPython installs hooks on all domains or none when configuring by name).
public struct DomainPlan: Sendable, Hashable, Codable, CustomStringConvertible {
  public var raw: BackingKind
  public var mem: BackingKind
  public var obj: BackingKind
  public var debugHooks: Bool

  public init(raw: BackingKind, mem: BackingKind, obj: BackingKind, debugHooks: Bool) {
    self.raw = raw
    self.mem = mem
    self.obj = obj
    self.debugHooks = debugHooks
  }

  public subscript(domain: PyMemDomain) -> BackingKind {
    switch domain {
    case .raw: raw
    case .mem: mem
    case .obj: obj
    }
  }

  /// `PYRAW_ALLOC`, `PYMEM_ALLOC`, `PYOBJ_ALLOC` of a build: free-threaded → malloc/mimalloc/mimalloc;
  /// with pymalloc → malloc/pymalloc/pymalloc; else malloc × 3.
  public static func defaults(of build: PyBuild, debugHooks: Bool) -> DomainPlan {
    if build.freeThreaded {
      return DomainPlan(raw: .malloc, mem: .mimalloc(.mem), obj: .mimalloc(.object), debugHooks: debugHooks)
    }
    if build.withPymalloc {
      return DomainPlan(raw: .malloc, mem: .pymalloc, obj: .pymalloc, debugHooks: debugHooks)
    }
    return DomainPlan(raw: .malloc, mem: .malloc, obj: .malloc, debugHooks: debugHooks)
  }

  /// `set_up_allocators_unlocked` for a parsed name: `default` hooks iff Py_DEBUG, `debug` always.
  public static func plan(for name: PyMemAllocatorName, build: PyBuild) -> DomainPlan {
    switch name {
    case .default: defaults(of: build, debugHooks: build.pyDebug)
    case .debug: defaults(of: build, debugHooks: true)
    case .malloc, .mallocDebug:
      DomainPlan(raw: .malloc, mem: .malloc, obj: .malloc, debugHooks: name == .mallocDebug)
    case .pymalloc, .pymallocDebug:
      DomainPlan(raw: .malloc, mem: .pymalloc, obj: .pymalloc, debugHooks: name == .pymallocDebug)
    case .mimalloc, .mimallocDebug:
      DomainPlan(raw: .malloc, mem: .mimalloc(.mem), obj: .mimalloc(.object), debugHooks: name == .mimallocDebug)
    }
  }

  /// Parses `name` for `build` and returns its plan.
  public static func plan(for name: String, build: PyBuild) throws(PyMemConfigError) -> DomainPlan {
    plan(for: try PyMemAllocatorName.parse(name, for: build), build: build)
  }

  /// True iff some domain needs mimalloc.
  public var needsMimalloc: Bool {
    PyMemDomain.allCases.contains { if case .mimalloc = self[$0] { true } else { false } }
  }

  public var description: String {
    "RAW \(raw), MEM \(mem), OBJ \(obj)\(debugHooks ? ", debug hooks on all three" : "")"
  }
}

/// Why a configuration cannot be set up.
public enum PyMemConfigError: Error, Sendable, Hashable, CustomStringConvertible {
  /// `_PyMem_GetAllocatorName` failed: CPython prints ``description`` and exits with status 1.
  case unknownAllocator(String)
  /// The name is valid for the build, but its backing is not built in this package yet (mimalloc, until a
  /// ``MimallocBackingProvider`` is passed). An explicit error, never a silent fallback to another backing.
  case backingNotAvailable(name: String, backing: BackingKind)

  public var description: String {
    switch self {
    case .unknownAllocator:
      "Fatal Python error: preconfig_init_allocator: PYTHONMALLOC: unknown allocator"
    case .backingNotAvailable(let name, let backing):
      "PYTHONMALLOC=\(name): the \(backing) backing is not available yet (no MimallocBackingProvider was given)"
    }
  }
}
