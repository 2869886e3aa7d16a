// PyMemDomains+Addresses.swift — the domain entry points by integer address, for the harness (strict
// memory safety, no pointers), with the `UInt64` sizes of its op programs. Same semantics as the pointer
// versions in PyMemDomains.swift.

extension PyMemDomains {
  public func mallocAddress(_ domain: PyMemDomain, _ n: UInt64) -> Int? {
    malloc(domain, UInt(n)).map { Int(bitPattern: $0) }
  }

  public func callocAddress(_ domain: PyMemDomain, _ nelem: UInt64, _ elsize: UInt64) -> Int? {
    calloc(domain, UInt(nelem), UInt(elsize)).map { Int(bitPattern: $0) }
  }

  public func reallocAddress(_ domain: PyMemDomain, _ address: Int?, _ n: UInt64) -> Int? {
    realloc(domain, address.flatMap { UnsafeMutableRawPointer(bitPattern: $0) }, UInt(n)).map { Int(bitPattern: $0) }
  }

  public func freeAddress(_ domain: PyMemDomain, _ address: Int?) {
    free(domain, address.flatMap { UnsafeMutableRawPointer(bitPattern: $0) })
  }

  /// `_PyObject_IsFreed` by address (nil: the model cannot read the object's `ob_type`).
  public func objectIsFreedAddress(_ address: Int) -> Bool? { objectIsFreed(UnsafeRawPointer(bitPattern: address)) }
}
