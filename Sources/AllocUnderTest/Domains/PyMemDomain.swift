// PyMemDomain.swift — the three PyMem domains and the CPython build they belong to.
//
// ``PyMemDomain`` is `PyMemAllocatorDomain` (Include/cpython/pymem.h): RAW 0, MEM 1, OBJ 2, each with the
// API id byte its debug hooks stamp into a block header (Objects/obmalloc.c, `PYDBGRAW_ALLOC` & co.).
// ``PyBuild`` is the build kind that decides the allocator table (§2.2 of the spec): version, Py_DEBUG,
// Py_GIL_DISABLED and WITH_PYMALLOC. No state, no invariants to guard.

/// `PYMEM_DOMAIN_RAW` / `_MEM` / `_OBJ`.
public enum PyMemDomain: Int, CaseIterable, Sendable, Codable, CustomStringConvertible {
  /// `PyMem_Raw*`: callable without the GIL; must be thread-safe.
  case raw = 0
  /// `PyMem_*`: needs the GIL (free-threaded: an attached thread state).
  case mem = 1
  /// `PyObject_*`: needs the GIL (free-threaded: an attached thread state).
  case obj = 2

  /// The API id byte of the debug hooks: 'r', 'm' or 'o' (obmalloc.c, `_PyRuntime.allocators.debug`).
  public var apiID: UInt8 {
    switch self {
    case .raw: UInt8(ascii: "r")
    case .mem: UInt8(ascii: "m")
    case .obj: UInt8(ascii: "o")
    }
  }

  /// The C prefix of the domain's public functions, for messages: `PyMem_Raw`, `PyMem_`, `PyObject_`.
  public var functionPrefix: String {
    switch self {
    case .raw: "PyMem_Raw"
    case .mem: "PyMem_"
    case .obj: "PyObject_"
    }
  }

  public var description: String {
    switch self {
    case .raw: "RAW"
    case .mem: "MEM"
    case .obj: "OBJ"
    }
  }
}

/// CPython versions whose allocator layer the spec describes.
public enum PythonVersion: Int, Sendable, Codable, CaseIterable, Comparable, CustomStringConvertible {
  case v3_11 = 311
  case v3_12 = 312
  case v3_13 = 313
  case v3_14 = 314

  public static func < (a: PythonVersion, b: PythonVersion) -> Bool { a.rawValue < b.rawValue }
  public var description: String { "3.\(rawValue % 100)" }
}

/// How CPython was configured: the inputs of `PYRAW_ALLOC`/`PYMEM_ALLOC`/`PYOBJ_ALLOC` and
/// `_PyMem_GetAllocatorName` (Objects/obmalloc.c).
public struct PyBuild: Sendable, Hashable, Codable, CustomStringConvertible {
  public var version: PythonVersion
  /// `Py_DEBUG`: the default allocators carry the debug hooks.
  public var pyDebug: Bool
  /// `Py_GIL_DISABLED` (3.13+): MEM and OBJ are mimalloc; malloc/pymalloc names are rejected.
  public var freeThreaded: Bool
  /// `WITH_PYMALLOC` (configure `--without-pymalloc` clears it).
  public var withPymalloc: Bool

  /// Traps on a build that cannot exist: a free-threaded build before 3.13 (there was none).
  public init(version: PythonVersion = .v3_13, pyDebug: Bool = false, freeThreaded: Bool = false,
              withPymalloc: Bool = true) {
    require(!freeThreaded || version >= .v3_13, "PyBuild: there is no free-threaded CPython \(version)")
    self.version = version
    self.pyDebug = pyDebug
    self.freeThreaded = freeThreaded
    self.withPymalloc = withPymalloc
  }

  /// `WITH_MIMALLOC`: vendored and on by default since 3.13 (configure `--with-mimalloc`).
  public var withMimalloc: Bool { version >= .v3_13 }
  /// pymalloc is usable: compiled in and not a free-threaded build (obmalloc.c guards it with both).
  public var pymallocUsable: Bool { withPymalloc && !freeThreaded }

  /// Release GIL build (the `pymalloc` row of the allocator table).
  public static let release = PyBuild()
  /// `Py_DEBUG` GIL build (the `pymalloc_debug` row).
  public static let debug = PyBuild(pyDebug: true)
  /// Free-threaded release build (the `mimalloc` row).
  public static let freeThreaded = PyBuild(freeThreaded: true)
  /// Free-threaded `Py_DEBUG` build (the `mimalloc_debug` row).
  public static let freeThreadedDebug = PyBuild(pyDebug: true, freeThreaded: true)

  public var description: String {
    "\(version)\(freeThreaded ? "t" : "")\(pyDebug ? " Py_DEBUG" : "")\(withPymalloc ? "" : " --without-pymalloc")"
  }
}
