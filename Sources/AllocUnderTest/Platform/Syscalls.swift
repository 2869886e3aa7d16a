// Syscalls.swift — the only file that calls the kernel's memory-mapping interface (habit R21).
//
// Entry points: `sys_pageSize()`, `sys_mmap(length:injector:)`, `sys_munmap(_:length:)` and
// `sys_madvise(_:length:advice:)`; for a page source that places its regions itself,
// `sys_reserveSpace(length:hint:)` (address space only) and `sys_mapFixed(_:length:accessible:)` (inside such
// a reservation). Each maps errnos the same way (R22): an errno that can only mean our own bug traps with a
// message naming the call; anything else is thrown as a ``SystemError``, and callers turn ENOMEM into a nil
// allocation. Only `sys_mmap` consults a ``FaultInjector``: it is the call that can
// legitimately fail, and an injected failure returns its errno without calling the OS.
// Errno meanings are quoted from the Linux man pages mmap(2), munmap(2) and madvise(2).
// No `checkInvariants()`: stateless.
#if canImport(Glibc)
import Glibc
#endif

/// The OS page size, read once. Every length passed to the wrappers below is a multiple of it.
let osPageSize: Int = sys_pageSize()

/// `0x7f1234567000`: an address as trap messages spell it.
func hexAddress(_ address: UInt) -> String {
  "0x" + String(address, radix: 16)
}

/// `sysconf(_SC_PAGESIZE)`; traps if the C library cannot say (it always can on Linux).
func sys_pageSize() -> Int {
  let size = sysconf(Int32(_SC_PAGESIZE))
  require(size > 0 && size & (size - 1) == 0, "\(#function): sysconf(_SC_PAGESIZE) returned \(size)")
  return size
}

/// Maps `length` bytes of zeroed, private, anonymous read-write memory, as CPython's arena allocator does
/// (Objects/obmalloc.c, `_PyObject_ArenaMmap`: `PROT_READ|PROT_WRITE`, `MAP_PRIVATE|MAP_ANONYMOUS`).
///
/// Counts one call on `injector` first; if it says fail, throws that errno without calling the OS.
func sys_mmap(length: Int, injector: FaultInjector) throws(SystemError) -> UnsafeMutableRawPointer {
  require(length > 0, "\(#function): length \(length) must be > 0")
  if let injected = injector.nextFailure() {  // rare: a fault plan fired
    throw SystemError(errno: injected, call: #function)
  }
  let result = unsafe mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
  // MAP_FAILED is `(void *)-1`, a macro Swift does not import.
  guard let base = unsafe result, unsafe base != UnsafeMutableRawPointer(bitPattern: -1) else {
    // Not mapped here, all passed on to the caller:
    // ENOMEM "No memory is available", or the mapping count or RLIMIT_AS / RLIMIT_DATA would be exceeded;
    // EAGAIN "too much memory has been locked"; EPERM, ENFILE, ... cannot happen for anonymous memory.
    throw SystemError(errno: errno, call: #function)
  }
  return unsafe base
}

/// Reserves `length` bytes of address space with no access and no memory behind it (`PROT_NONE`,
/// `MAP_NORESERVE`): nothing is committed, and a touch faults until ``sys_mapFixed(_:length:accessible:)``
/// opens part of it. `hint`: where to put it if that range is free (the kernel decides). Throws what mmap(2)
/// says (ENOMEM: no hole that large); no fault plan is consulted.
func sys_reserveSpace(length: Int, hint: UnsafeMutableRawPointer? = nil) throws(SystemError) -> UnsafeMutableRawPointer {
  require(length > 0 && length % osPageSize == 0, "\(#function): length \(length) must be a positive page multiple")
  let result = unsafe mmap(hint, length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
  guard let base = unsafe result, unsafe base != UnsafeMutableRawPointer(bitPattern: -1) else {
    throw SystemError(errno: errno, call: #function)
  }
  return unsafe base
}

/// Replaces `[base, base + length)`, which must lie inside a reservation of ours, with a fresh private
/// anonymous mapping: zeroed read-write memory when `accessible` (as ``sys_mmap(length:injector:)`` maps), or
/// no access and no memory again when not (the old pages are dropped and the range stays reserved).
///
/// Traps on EINVAL (a misaligned range: our bug). Throws anything else (ENOMEM: no memory, or the mapping
/// count would pass `vm.max_map_count`); then the range is as it was.
func sys_mapFixed(_ base: UnsafeMutableRawPointer, length: Int, accessible: Bool) throws(SystemError) {
  let protection = accessible ? PROT_READ | PROT_WRITE : PROT_NONE
  let flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | (accessible ? 0 : MAP_NORESERVE)
  let result = unsafe mmap(base, length, protection, flags, -1, 0)
  guard let mapped = unsafe result, unsafe mapped != UnsafeMutableRawPointer(bitPattern: -1) else {
    let code = errno
    require(code != EINVAL, "mmap(\(hexAddress(UInt(bitPattern: base))), \(length), MAP_FIXED) failed with EINVAL: "
              + "the range is not page-aligned or is empty")
    throw SystemError(errno: code, call: #function)
  }
  require(unsafe mapped == base, "mmap(MAP_FIXED) mapped \(hexAddress(UInt(bitPattern: mapped))) instead of \(hexAddress(UInt(bitPattern: base)))")
}

/// Unmaps `length` bytes at `base`.
///
/// Traps on EINVAL/EFAULT: the range was not one we mapped. Throws anything else, in practice only
/// ENOMEM "the process's maximum number of mappings would have been exceeded", which happens when unmapping
/// the middle of a mapping the kernel merged with its neighbours would split it past `vm.max_map_count`.
func sys_munmap(_ base: UnsafeMutableRawPointer, length: Int) throws(SystemError) {
  guard unsafe munmap(base, length) != 0 else { return }  // usual: success
  let code = errno
  let call = "munmap(\(hexAddress(UInt(bitPattern: base))), \(length))"
  switch code {
  case EINVAL:
    // "We don't like addr, length, or offset (e.g., they are too large, or not aligned on a page
    // boundary)"; also "length was 0".
    fatalError("\(call) failed with EINVAL: the address is not page-aligned or "
      + "the length is 0 or too large, so the caller passed a range no PageSource handed out")
  case EFAULT:
    // "Bad address": the range lies outside the process's address space.
    fatalError("\(call) failed with EFAULT: the range is outside the address space")
  default:
    throw SystemError(errno: code, call: #function)
  }
}

/// Gives the kernel `advice` about `length` bytes at `base`; the platform layer uses `MADV_DONTNEED`,
/// after which a private anonymous range reads as zero-fill-on-demand pages.
///
/// Traps on EINVAL and ENOMEM, which can only mean a bad range from us; throws anything else (EAGAIN "a
/// kernel resource was temporarily unavailable").
func sys_madvise(_ base: UnsafeMutableRawPointer, length: Int, advice: Int32) throws(SystemError) {
  guard unsafe madvise(base, length, advice) != 0 else { return }  // usual: success
  let code = errno
  let call = "madvise(\(hexAddress(UInt(bitPattern: base))), \(length), \(advice))"
  switch code {
  case EINVAL:
    // "addr is not page-aligned or length is negative", or "advice is not valid", or the range holds
    // locked or huge-TLB pages (we never map those).
    fatalError("\(call) failed with EINVAL: the address is not "
      + "page-aligned or the advice is invalid for this range")
  case ENOMEM:
    // "Addresses in the specified range are not currently mapped, or are outside the address space".
    fatalError("\(call) failed with ENOMEM: part of the range is "
      + "not mapped, so the caller passed a range no PageSource handed out")
  default:
    throw SystemError(errno: code, call: #function)
  }
}
