// PeerLibrary.swift — loading the real allocators the suite checks (issue 11) at run time: one `dlopen` per
// library per process, `dlsym` for each entry point, and one error type that names the Debian package to
// install. Nothing links against a peer, so the package builds and runs where a peer is missing; a peer that
// cannot be loaded is reported, never half-used. Entry points: ``PeerLibrary/open(_:)``,
// ``PeerLibrary/function(_:as:)``, ``PeerUnavailable``. No state to guard beyond the handle cache (one lock).
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The real allocators, by their `--allocator` names.
public enum PeerKind: String, CaseIterable, Sendable {
  /// The project's own Swift allocators (pymalloc, mimalloc 2.1.2, the PyMem domains).
  case reference
  /// CPython 3.11's pymalloc from libpython3.11 (PyObject_Malloc & co., no Py_Initialize).
  case cpython
  /// CPython 3.11's debug hooks (PyMem_SetupDebugHooks) over its own domains.
  case cpythonDebug = "cpython-debug"
  /// libmimalloc 2.0.9 (Debian), with real OS threads.
  case mimalloc
  /// glibc's malloc/calloc/realloc/free.
  case glibc
  /// jemalloc 5 (Debian libjemalloc2).
  case jemalloc

  /// The library file dlopen is asked for.
  public var libraryFile: String? {
    switch self {
    case .reference: nil
    case .cpython, .cpythonDebug: "libpython3.11.so.1.0"
    case .mimalloc: "libmimalloc.so.2"
    case .glibc: "libc.so.6"
    case .jemalloc: "libjemalloc.so.2"
    }
  }

  /// The Debian package that ships ``libraryFile``.
  public var debianPackage: String? {
    switch self {
    case .reference: nil
    case .cpython, .cpythonDebug: "libpython3.11"
    case .mimalloc: "libmimalloc2.0"
    case .glibc: "libc6"
    case .jemalloc: "libjemalloc2"
    }
  }
}

/// A peer that cannot be used here: which, why, and what to install.
public struct PeerUnavailable: Error, Equatable, CustomStringConvertible, Sendable {
  public var peer: PeerKind
  public var reason: String

  public init(peer: PeerKind, reason: String) {
    self.peer = peer
    self.reason = reason
  }

  public var description: String {
    let notInstalled = reason.contains("No such file") || reason.contains("cannot open shared object")
    let install = !notInstalled ? "" : peer.debianPackage.map { "; install it with: apt-get install \($0) (scripts/bootstrap does)" } ?? ""
    return "the \(peer.rawValue) peer is not available: \(reason)\(install)"
  }
}

/// One dlopen'ed library. Handles are cached per file for the life of the process (never dlclosed: a peer's
/// static state, such as pymalloc's arenas, must outlive every adapter over it).
public final class PeerLibrary: @unchecked Sendable {
  // @unchecked: `handle` is written once in init and only read afterwards.
  public let file: String
  public let peer: PeerKind
  private let handle: UnsafeMutableRawPointer

  private init(file: String, peer: PeerKind, handle: UnsafeMutableRawPointer) {
    self.file = file
    self.peer = peer
    self.handle = handle
  }

  private static let cache = Mutex<[String: PeerLibrary]>([:])

  /// The library of `peer`, loaded on first use (RTLD_NOW | RTLD_LOCAL: its symbols never replace ours).
  ///
  /// jemalloc uses initial-exec TLS, which a dlopen'ed library may only have if the loader kept spare static
  /// TLS: its error then says to start the process with ``staticTLSTunable`` (the CLI re-executes itself so).
  public static func open(_ peer: PeerKind) throws(PeerUnavailable) -> PeerLibrary {
    guard let file = peer.libraryFile else { throw PeerUnavailable(peer: peer, reason: "the reference is not a library") }
    let result: Result<PeerLibrary, PeerUnavailable> = cache.withLock { cache in
      if let lib = cache[file] { return .success(lib) }
      guard let h = unsafe dlopen(file, RTLD_NOW | RTLD_LOCAL) else {
        let why = unsafe dlerror().map { unsafe String(cString: $0) } ?? "dlopen failed"
        let hint = why.contains("static TLS") ? " (start the process with GLIBC_TUNABLES=\(staticTLSTunable))" : ""
        return .failure(PeerUnavailable(peer: peer, reason: "cannot load \(file): \(why)\(hint)"))
      }
      let lib = PeerLibrary(file: file, peer: peer, handle: h)
      cache[file] = lib
      return .success(lib)
    }
    return try result.get()
  }

  /// The glibc tunable that leaves room for jemalloc's initial-exec TLS when it is dlopen'ed.
  public static let staticTLSTunable = "glibc.rtld.optional_static_tls=65536"

  /// The address of `symbol`, or an error naming it.
  public func address(_ symbol: String) throws(PeerUnavailable) -> UnsafeMutableRawPointer {
    _ = unsafe dlerror()
    guard let p = unsafe dlsym(handle, symbol) else {
      throw PeerUnavailable(peer: peer, reason: "\(file) has no symbol \(symbol)")
    }
    return unsafe p
  }

  /// `symbol` as a C function of type `T` (a `@convention(c)` function type the caller spells exactly as
  /// the C prototype: a wrong type is undefined behaviour, so each peer declares its types in one place).
  public func function<T>(_ symbol: String, as type: T.Type) throws(PeerUnavailable) -> T {
    let p = try address(symbol)
    return unsafe unsafeBitCast(p, to: type)
  }
}

/// A peer object made once per process, on first use. A failure is kept too: a library that could not be
/// loaded will not appear later in the same process.
final class PeerOnce<T: AnyObject & Sendable>: Sendable {
  private let slot = Mutex<Result<T, PeerUnavailable>?>(nil)

  func get(_ make: () throws(PeerUnavailable) -> T) throws(PeerUnavailable) -> T {
    let r: Result<T, PeerUnavailable> = slot.withLock { cached in
      if let cached { return cached }
      let made: Result<T, PeerUnavailable>
      do throws(PeerUnavailable) { made = .success(try make()) } catch { made = .failure(error) }
      cached = made
      return made
    }
    return try r.get()
  }
}
