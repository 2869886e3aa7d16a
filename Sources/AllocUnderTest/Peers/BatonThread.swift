// BatonThread.swift — one real OS thread (a pthread) that runs closures handed to it, one at a time, while
// the caller waits: the baton that lets a deterministic, single-threaded program drive an allocator that
// knows threads only as OS threads (libmimalloc: thread-local heaps, `_mi_thread_done` from a pthread key
// destructor). Entry points: ``BatonThread/init(name:)``, ``BatonThread/run(_:)``, ``BatonThread/finish()``.
//
// Protocol: the caller stores a job under the lock and signals; the thread runs it outside the lock, then
// stores "done" and signals back. The lock hand-off in both directions orders every memory effect of the
// job before the caller's next step (and the caller's before the job), so no other synchronization is
// needed between the caller and the allocator state the job touched. ``finish()`` makes the start routine
// return and joins the thread, so the thread's TLS destructors have run when it returns.
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

public final class BatonThread: @unchecked Sendable {
  // @unchecked: `job`, `jobDone` and `stopping` are read and written only under `lock`; `thread` is written
  // by init and read by finish, both on the owner's thread.
  private let lock: UnsafeMutablePointer<pthread_mutex_t>
  private let wake: UnsafeMutablePointer<pthread_cond_t>
  private var job: (() -> Void)?
  private var jobDone = false
  private var stopping = false
  private var thread = pthread_t()
  private var finished = false
  public let name: String

  /// Starts the thread; it waits for its first job.
  public init(name: String) {
    self.name = name
    lock = .allocate(capacity: 1)
    wake = .allocate(capacity: 1)
    unsafe pthread_mutex_init(lock, nil)
    unsafe pthread_cond_init(wake, nil)
    let context = unsafe Unmanaged.passRetained(self).toOpaque()  // released by the thread when it ends
    let rc = unsafe pthread_create(&thread, nil, batonThreadMain, context)
    precondition(rc == 0, "BatonThread \(name): pthread_create failed with errno \(rc)")
  }

  deinit {
    unsafe pthread_cond_destroy(wake)
    unsafe pthread_mutex_destroy(lock)
    unsafe wake.deallocate()
    unsafe lock.deallocate()
  }

  /// Runs `body` on this thread and returns its result; the caller blocks until it is done.
  /// Precondition: not finished, and not called from this thread itself (that would deadlock).
  public func run<T>(_ body: () -> T) -> T {
    precondition(!finished, "BatonThread \(name): run after finish")
    precondition(pthread_equal(pthread_self(), thread) == 0, "BatonThread \(name): run from its own thread")
    var result: T? = nil
    withoutActuallyEscaping(body) { body in
      let box = { result = body() }
      unsafe pthread_mutex_lock(lock)
      job = box
      jobDone = false
      unsafe pthread_cond_broadcast(wake)
      while !jobDone { unsafe pthread_cond_wait(wake, lock) }
      job = nil
      unsafe pthread_mutex_unlock(lock)
    }
    return result!
  }

  /// The thread's start routine returns (its TLS destructors run: libmimalloc's `_mi_thread_done`) and is
  /// joined. Idempotent.
  public func finish() {
    guard !finished else { return }
    finished = true
    unsafe pthread_mutex_lock(lock)
    stopping = true
    unsafe pthread_cond_broadcast(wake)
    unsafe pthread_mutex_unlock(lock)
    pthread_join(thread, nil)
  }

  /// The thread's loop: wait for a job or the stop request; run the job outside the lock.
  fileprivate func serve() {
    unsafe pthread_mutex_lock(lock)
    while true {
      while job == nil || jobDone {
        if stopping {
          unsafe pthread_mutex_unlock(lock)
          return
        }
        unsafe pthread_cond_wait(wake, lock)
      }
      let body = job!
      unsafe pthread_mutex_unlock(lock)
      body()
      unsafe pthread_mutex_lock(lock)
      jobDone = true
      unsafe pthread_cond_broadcast(wake)
    }
  }
}

/// pthread start routine: serve jobs until asked to stop, then drop the reference `init` passed.
private func batonThreadMain(_ context: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
  let baton = unsafe Unmanaged<BatonThread>.fromOpaque(context!)
  unsafe baton.takeUnretainedValue().serve()
  unsafe baton.release()
  return nil
}
