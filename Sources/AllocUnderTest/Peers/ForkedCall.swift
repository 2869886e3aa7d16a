// ForkedCall.swift — runs one call that may end the process (a `Py_FatalError` of CPython's debug hooks,
// which aborts) in a forked child, and gives back what the child wrote to stderr and how it ended. Entry
// point: ``ForkedCall/run(timeoutMilliseconds:_:)``. No state.
//
// Subtle: the test and fuzz processes have other threads, which may hold Swift runtime or libc locks at the
// moment of fork; the child has only the forking thread and must not wait for any of them. So the child
// does only this: dup2(2) the pipe onto fd 2, run the body (which must only call C functions resolved
// before the fork, on arguments computed before it: no Swift allocation, no metadata, no locks), _exit(2).

#if canImport(Glibc)
import Glibc
#endif

/// How a forked call ended and what it printed.
public struct ForkedOutcome: Sendable, Hashable {
  /// The child returned from the call and exited with this status (0: it returned).
  public var exitStatus: Int32?
  /// The child was killed by this signal (SIGABRT after a fatal error, SIGSEGV when the dump faults).
  public var signal: Int32?
  /// Everything the child wrote to fd 2, raw (the dump prints an API id byte as is, e.g. 0xDD or 0x00).
  public var stderr: [UInt8]
  /// The parent gave up waiting and killed the child.
  public var timedOut: Bool

  /// Killed by a memory fault (SIGSEGV or SIGBUS), as when the hooks' dump reads a bogus size.
  public var faulted: Bool { signal == SIGSEGV || signal == SIGBUS }

  /// The call returned normally and printed nothing: the parent may repeat it in process.
  public var returnedQuietly: Bool { exitStatus == 0 && stderr.isEmpty && !timedOut }

  /// "exit 0", "SIGABRT", "SIGSEGV", "signal 7", "timeout".
  public var statusText: String {
    if timedOut { return "timeout (killed)" }
    if let s = signal {
      switch s {
      case SIGABRT: return "SIGABRT"
      case SIGSEGV: return "SIGSEGV"
      case SIGBUS: return "SIGBUS"
      default: return "signal \(s)"
      }
    }
    return "exit \(exitStatus ?? -1)"
  }
}

public enum ForkedCall {
  /// Forks; the child runs `body` with fd 2 on a pipe and `_exit(0)`s if it returns. The parent reads the
  /// pipe to its end (or `timeoutMilliseconds`, then SIGKILLs its child) and reaps the child.
  /// Returns nil if pipe or fork fails (no child ran).
  public static func run(timeoutMilliseconds: Int32 = 20_000, _ body: () -> Void) -> ForkedOutcome? {
    var fds: [Int32] = [-1, -1]
    guard unsafe pipe(&fds) == 0 else { return nil }
    let child = fork()
    if child < 0 {
      close(fds[0])
      close(fds[1])
      return nil
    }
    if child == 0 {
      // The child: nothing here may allocate or lock (see the file header).
      _ = dup2(fds[1], 2)
      close(fds[0])
      close(fds[1])
      body()
      _exit(0)
    }
    close(fds[1])
    var out: [UInt8] = []
    var timedOut = false
    var chunk = [UInt8](repeating: 0, count: 4096)
    readLoop: while true {
      var p = pollfd(fd: fds[0], events: Int16(POLLIN), revents: 0)
      let ready = unsafe poll(&p, 1, timeoutMilliseconds)
      if ready == 0 {
        timedOut = true
        kill(child, SIGKILL)
        break
      }
      if ready < 0 {
        if errno == EINTR { continue }
        break
      }
      let n = unsafe chunk.withUnsafeMutableBytes { unsafe read(fds[0], $0.baseAddress, $0.count) }
      if n < 0 && errno == EINTR { continue }
      guard n > 0 else { break readLoop }
      out += chunk[0..<n]
    }
    close(fds[0])
    var status: Int32 = 0
    while unsafe waitpid(child, &status, 0) < 0 && errno == EINTR {}
    // <sys/wait.h> macros, which Swift does not import: low 7 bits = the terminating signal (0: exited).
    let termsig = status & 0x7f
    return ForkedOutcome(exitStatus: termsig == 0 ? (status >> 8) & 0xff : nil, signal: termsig == 0 ? nil : termsig,
                         stderr: out, timedOut: timedOut)
  }
}
