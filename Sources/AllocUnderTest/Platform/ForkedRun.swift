// ForkedRun.swift — running a piece of work in a child process (fork) and getting its result back as bytes
// through a pipe. The differential needs it: CPython's pymalloc keeps its state for the life of a process,
// so every program (and every shrink candidate) runs in a child forked from a parent that never ran one,
// and each starts from the same state. The child must not outlive the call: it `_exit`s after writing.
// Use it from a single-threaded process (the command line): a child forked while another thread holds a
// lock inherits the lock held.
#if canImport(Glibc)
import Glibc
#endif

public enum ForkedRun {
  /// How the child ended when it gave no result.
  public struct Failure: Error, Equatable, CustomStringConvertible, Sendable {
    public var status: Int32
    public var description: String {
      (status & 0x7f) != 0 ? "the child process was killed by signal \(status & 0x7f)" : "the child process exited with status \((status >> 8) & 0xff) and no result"
    }
  }

  /// `body`'s bytes, computed in a child process.
  public static func run(_ body: () -> [UInt8]) -> Result<[UInt8], Failure> {
    var fds: [Int32] = [0, 0]
    require(unsafe pipe(&fds) == 0, "ForkedRun: pipe failed (errno \(errno))")
    let pid = fork()
    require(pid >= 0, "ForkedRun: fork failed (errno \(errno))")
    if pid == 0 {
      close(fds[0])
      let bytes = body()
      var sent = 0
      while sent < bytes.count {
        let n = unsafe bytes.withUnsafeBytes { unsafe write(fds[1], $0.baseAddress! + sent, bytes.count - sent) }
        if n <= 0 { break }
        sent += n
      }
      _exit(0)
    }
    close(fds[1])
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while true {
      let n = unsafe chunk.withUnsafeMutableBytes { unsafe read(fds[0], $0.baseAddress, $0.count) }
      if n > 0 { out += chunk[0..<n]; continue }
      if n < 0 && errno == EINTR { continue }
      break
    }
    close(fds[0])
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    if status != 0 || out.isEmpty { return .failure(Failure(status: status)) }
    return .success(out)
  }
}
