// DebugHooks.swift — one domain's debug context (`debug_alloc_api_t` {api_id, wrapped table}) and its
// functions: `_PyMem_DebugRawMalloc/Calloc/Free` for RAW, `_PyMem_DebugMalloc/Calloc/Free` (GIL check
// first) for MEM and OBJ (Objects/obmalloc.c). Realloc: DebugHooks+Realloc.swift. Layout: DebugLayout.swift;
// checks: DebugCheck.swift; dump: DebugDump.swift. Every check failure goes to the settings' fatal handler
// as a ``PyFatalError`` and the operation stops there. Guarded by the DH1–DH4 tests and ``DomainBug``.

/// The debug hooks of one domain, wrapping whatever was installed before `PyMem_SetupDebugHooks`.
public final class DebugHooks: BlockAllocator {
  /// Whose API id this context stamps and checks.
  public let domain: PyMemDomain
  /// The table saved by `set_up_debug_hooks_domain_unlocked` (`_PyMem_Debug.<domain>.alloc`).
  public internal(set) var wrapped: any BlockAllocator
  let settings: DebugHookSettings

  init(domain: PyMemDomain, wrapping wrapped: any BlockAllocator, settings: DebugHookSettings) {
    self.domain = domain
    self.wrapped = wrapped
    self.settings = settings
  }

  public var identity: AllocatorIdentity { .debugHooks(domain) }
  var bugs: Set<DomainBug> { settings.bugs }

  public func malloc(_ size: UInt) -> UnsafeMutableRawPointer? {
    guard checkGIL("_PyMem_DebugMalloc", raw: "_PyMem_DebugRawMalloc") else { return nil }
    return allocate(size, calloc: false)
  }

  public func calloc(_ nelem: UInt, _ elsize: UInt) -> UnsafeMutableRawPointer? {
    guard checkGIL("_PyMem_DebugCalloc", raw: "_PyMem_DebugRawCalloc") else { return nil }
    let (n, overflow) = nelem.multipliedReportingOverflow(by: elsize)  // the wrappers already refused overflow
    return overflow ? nil : allocate(n, calloc: true)
  }

  /// `_PyMem_DebugRawFree`: check, fill the whole block (header included) with 0xDD, free it.
  public func free(_ p: UnsafeMutableRawPointer?) {
    guard checkGIL("_PyMem_DebugFree", raw: "_PyMem_DebugRawFree") else { return }
    guard let p else { return }  // after the GIL check: PyMem_Free(NULL) without the GIL is fatal too
    guard let block = checked(p, function: "_PyMem_DebugRawFree") else { return }
    let n = block.requestedSize  // read before the header is filled
    if !bugs.contains(.deadBytesNotWritten) {
      block.fill(0, count: DebugLayout.headerSize, with: DebugLayout.deadByte)
      fillData(block, count: n + settings.extraBytes - DebugLayout.headerSize, with: DebugLayout.deadByte)
    }
    wrapped.free(block.base)
  }

  /// N, the size the caller asked for (0 if the header cannot be read).
  public func usableSize(_ p: UnsafeMutableRawPointer) -> Int {
    let view = self.view(of: UncheckedUserPointer(p))
    return (try? view.requestedSize()).map { Int(clamping: $0) } ?? 0
  }

  /// What the wrapped allocator knows about `address` (the hooks own no memory themselves).
  public func readableRange(around address: Int) -> Range<Int>? { wrapped.readableRange(around: address) }

  // MARK: Shared steps

  /// `_PyMem_DebugRawAlloc`: ask for N + 24 (+ 8 with serials), write size, id, pads; fill data with 0xCD
  /// (malloc only, N > 0).
  func allocate(_ nbytes: UInt, calloc useCalloc: Bool) -> UnsafeMutableRawPointer? {
    guard nbytes <= pySsizeTMax - UInt(settings.extraBytes) else { return nil }  // total must fit Py_ssize_t
    let total = nbytes + UInt(settings.extraBytes)
    guard let base = useCalloc ? wrapped.calloc(1, total) : wrapped.malloc(total) else { return nil }
    let block = DebugBlock(base: base)
    let serial = settings.serialNumbers ? settings.bumpSerial() : 0
    let n = Int(nbytes)
    decorate(block, size: n, serial: serial)
    let clean = useCalloc ? bugs.contains(.callocFilledWithClean) && domain != .raw  // RAW spared: radix nodes
      : !bugs.contains(.cleanBytesNotWritten)
    if n > 0 && clean { fillData(block, count: n, with: DebugLayout.cleanByte) }
    return block.userPointer
  }

  /// Writes the header (size, id, leading pad), the trailing pad and the serial number for size `n`.
  func decorate(_ block: DebugBlock, size n: Int, serial: UInt) {
    block.writeWord(UInt(n), at: 0, littleEndian: bugs.contains(.sizeLittleEndian))
    block.store(domain.apiID, at: DebugLayout.sst)
    block.fill(DebugLayout.sst + 1, count: DebugLayout.leadingPadCount, with: DebugLayout.forbiddenByte)
    let tail = DebugLayout.headerSize + n
    let padCount = bugs.contains(.shortTrailingPad) ? DebugLayout.trailingPadCount - 1 : DebugLayout.trailingPadCount
    block.fill(tail, count: padCount, with: DebugLayout.forbiddenByte)
    if settings.serialNumbers { block.writeWord(serial, at: tail + DebugLayout.sst) }
  }

  /// `fill_mem_debug`: fills `count` bytes from the data start, except that free-threaded OBJ blocks keep
  /// their first `debug_offset − 16` data bytes (mimalloc's lock-free readers may still look at them).
  func fillData(_ block: DebugBlock, count: Int, with byte: UInt8) {
    guard settings.build.freeThreaded && domain == .obj else {
      block.fill(DebugLayout.headerSize, count: count, with: byte)  // usual
      return
    }
    let offset = wrapped.debugFillOffset(ofBlockAt: block.base) - DebugLayout.headerSize
    guard offset >= 0, offset < count else { return }  // C: a size_t offset ≥ nbytes fills nothing
    block.fill(DebugLayout.headerSize + offset, count: count - offset, with: byte)
  }

  /// `_PyMem_DebugCheckGIL` for MEM and OBJ; RAW is exempt (it must be callable without the GIL).
  /// Returns false after reporting the fatal error.
  func checkGIL(_ function: String, raw rawFunction: String) -> Bool {
    if domain == .raw {
      guard bugs.contains(.gilCheckedOnRaw) else { return true }  // usual for RAW
    } else if bugs.contains(.gilNotChecked) {
      return true
    }
    if settings.gilHeld() { return true }  // usual
    settings.report(PyFatalError(function: domain == .raw ? rawFunction : function,
                                 reason: .noGIL(message: settings.gilMessage), dump: nil))
    return false
  }

  /// A view of the presumed block at `user`, readable where the wrapped allocator vouches for the header's
  /// memory or, failing that (a block of another domain: API misuse), where any backing of the instance does.
  func view(of user: UncheckedUserPointer) -> DebugBlockView {
    let readable = user.presumedBase.flatMap { wrapped.readableRange(around: $0) ?? settings.knownMemory($0) }
    return DebugBlockView(user, readable: readable)
  }

  /// `_PyMem_DebugCheckAddress(func, api_id, p)`: the checked block, or nil after reporting the failure
  /// (with the `_PyObject_DebugDumpAddress` text, except when the check itself would read wild memory:
  /// CPython would then crash or misbehave before printing anything predictable).
  func checked(_ p: UnsafeMutableRawPointer, function: String) -> DebugBlock? {
    let view = self.view(of: UncheckedUserPointer(p))
    if let failure = DebugCheck.check(view, expecting: domain.apiID, bugs: bugs) {
      let dump: DebugDump? = if case .wildRead = failure { nil } else {
        DebugDump.render(view, serialNumbers: settings.serialNumbers)
      }
      settings.report(PyFatalError(function: function, reason: .check(failure), dump: dump))
      return nil
    }
    do {
      return try view.checkedBlock(extraBytes: settings.extraBytes)
    } catch {
      // Rare: only when a seeded bug skipped a check and the size field is nonsense.
      settings.report(PyFatalError(function: function, reason: .check(.wildRead(error)), dump: nil))
      return nil
    }
  }
}
