// SystemError.swift — the typed error of the platform layer: which call failed, with which errno.
//
// A ``SystemError`` is what a `sys_` wrapper in `Syscalls.swift` throws for an errno that is neither our own
// bug (those trap) nor plain ENOMEM (which callers turn into a nil allocation); see habit R22.
// ``MmapPageSource/lastError`` keeps the most recent one so a failed reserve can be explained afterwards.
// ``SystemError/errnoName(_:)`` spells errnos in fault plans and messages.
// No `checkInvariants()`: a value type with no invariants beyond `errno > 0`.
#if canImport(Glibc)
import Glibc
#endif

/// A failed system or C-library call: the errno it set and the wrapper that made it.
public struct SystemError: Error, Equatable, CustomStringConvertible {
  /// The errno the call reported (or that a ``FaultPlan`` made it pretend to report). Always > 0.
  public var errno: Int32
  /// The `sys_` wrapper that made the call, as `#function` spells it, e.g. `sys_mmap(length:injector:)`.
  public var call: String

  public init(errno: Int32, call: String = #function) {
    require(errno > 0, "SystemError needs a positive errno, got \(errno)")
    self.errno = errno
    self.call = call
  }

  /// `sys_mmap(length:injector:) failed: ENOMEM (Cannot allocate memory)`.
  public var description: String {
    let (name, meaning) = Self.spelling(of: errno)
    return "\(call) failed: \(name) (\(meaning))"
  }

  /// The symbolic name of an errno, e.g. `ENOMEM`; `errno 123` for values not in the short table.
  public static func errnoName(_ value: Int32) -> String { spelling(of: value).name }

  /// Name and errno(3) text for the errnos the platform layer can meet. A table rather than `strerror`,
  /// whose buffer is not guaranteed thread-safe by C or POSIX.
  static func spelling(of value: Int32) -> (name: String, meaning: String) {
    switch value {
    case ENOMEM: ("ENOMEM", "Cannot allocate memory")
    case EINVAL: ("EINVAL", "Invalid argument")
    case EFAULT: ("EFAULT", "Bad address")
    case EAGAIN: ("EAGAIN", "Resource temporarily unavailable")
    case EPERM: ("EPERM", "Operation not permitted")
    case EACCES: ("EACCES", "Permission denied")
    case EBADF: ("EBADF", "Bad file descriptor")
    case EIO: ("EIO", "Input/output error")
    case ENFILE: ("ENFILE", "Too many open files in system")
    case EMFILE: ("EMFILE", "Too many open files")
    case ENODEV: ("ENODEV", "No such device")
    case EOVERFLOW: ("EOVERFLOW", "Value too large for defined data type")
    case EBUSY: ("EBUSY", "Device or resource busy")
    case ENOSYS: ("ENOSYS", "Function not implemented")
    default: ("errno \(value)", "not in the platform layer's table")
    }
  }
}
