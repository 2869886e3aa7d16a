// Pymalloc+Addresses.swift — the entry points by integer address, for the harness (which has strict
// memory safety on and holds no pointers). Same semantics as malloc/calloc/realloc/free.

extension Pymalloc {
  public func mallocAddress(_ n: UInt64) -> Int? { malloc(n)?.address }
  public func callocAddress(_ count: UInt64, _ size: UInt64) -> Int? { calloc(count, size)?.address }
  public func reallocAddress(_ address: Int?, _ n: UInt64) -> Int? {
    realloc(address.flatMap { UnsafeMutableRawPointer(bitPattern: $0) }, n)?.address
  }
  public func freeAddress(_ address: Int?) { free(address.flatMap { UnsafeMutableRawPointer(bitPattern: $0) }) }
  public func usableSizeAddress(_ address: Int) -> Int {
    guard let p = UnsafeMutableRawPointer(bitPattern: address) else { return 0 }
    return usableSize(p)
  }
}
