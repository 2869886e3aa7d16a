// ObjectIsFreed.swift — `_PyMem_IsPtrFreed` (Include/internal/pycore_pymem.h) and `_PyObject_IsFreed`
// (Objects/object.c, 3.13): a pointer *value* of 0 or eight copies of 0xCD, 0xDD or 0xFD looks freed, and
// an object looks freed if its address or its `ob_type` does. That is how test_mem.py's
// `test_pyobject_*_is_freed` see the debug hooks' fill bytes. `ob_type` is read only where the OBJ
// allocator vouches for the memory; elsewhere the answer is nil (CPython would read it anyway).

public enum PyObjectProbe {
  /// `_PyMem_IsPtrFreed` on a 64-bit build.
  public static func isPtrFreed(_ value: UInt) -> Bool {
    value == 0 || value == 0xCDCD_CDCD_CDCD_CDCD || value == 0xDDDD_DDDD_DDDD_DDDD
      || value == 0xFDFD_FDFD_FDFD_FDFD
  }

  /// `offsetof(PyObject, ob_type)`: after `ob_refcnt` (8) in GIL builds; after `ob_tid`, flags, mutex,
  /// gc bits, `ob_ref_local` and `ob_ref_shared` (24) in free-threaded builds (Include/object.h).
  public static func obTypeOffset(_ build: PyBuild) -> Int { build.freeThreaded ? 24 : 8 }

  /// `sizeof(PyObject)`.
  public static func objectHeaderSize(_ build: PyBuild) -> Int { obTypeOffset(build) + 8 }
}

extension PyMemDomains {
  /// `_PyObject_IsFreed(op)` for an object allocated in the OBJ domain; nil when its `ob_type` word lies
  /// in memory the OBJ allocator cannot vouch for.
  public func objectIsFreed(_ op: UnsafeRawPointer?) -> Bool? {
    let address = UInt(bitPattern: op)
    if PyObjectProbe.isPtrFreed(address) { return true }
    let offset = PyObjectProbe.obTypeOffset(build)
    let start = Int(bitPattern: address) + offset
    guard let range = getAllocator(.obj).readableRange(around: Int(bitPattern: address)),
          range.contains(start), start + 8 <= range.upperBound, let op else { return nil }
    let obType = unsafe op.loadUnaligned(fromByteOffset: offset, as: UInt.self)
    return PyObjectProbe.isPtrFreed(obType)
  }
}
