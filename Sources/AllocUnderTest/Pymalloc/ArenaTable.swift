// ArenaTable.swift — the storage of obmalloc's two arena vectors: ``ArenaTable`` (`arenas`, the descriptor
// vector that starts at 16 and doubles) and ``ArenaIndexTable`` (`nfp2lasta`, a fixed row of descriptor
// indices). Both live in memory the table allocates itself and are reached through a `let` handle, so the
// allocation and free paths index them as obmalloc.c indexes its C arrays: no dynamic exclusivity check on
// a class property, no buffer retain/release, no uniqueness check before a write (what a `[ArenaObject]`
// stored property of ``Pymalloc`` cost on every op; issue 12). Indices are still bounds-checked: an arena
// index comes from a pool header in arena memory. Owner: ``Pymalloc``, which deallocates both in `deinit`.
// Guarded by PM4/PM5/PM7 in ``Pymalloc/checkInvariants()``.

/// The arena descriptors, indexed by `arenaindex`. A collection so that walkers read it like an array.
struct ArenaTable: RandomAccessCollection {
  private struct Header {
    var count: Int
    var capacity: Int
    var elements: UnsafeMutablePointer<ArenaObject>
  }
  private let header: UnsafeMutablePointer<Header>

  init() {
    header = UnsafeMutablePointer<Header>.allocate(capacity: 1)
    header.initialize(to: Header(count: 0, capacity: 0, elements: UnsafeMutablePointer<ArenaObject>.allocate(capacity: 0)))
  }

  /// Frees the storage; the table must not be used afterwards.
  func deallocate() {
    header.pointee.elements.deallocate()
    header.deallocate()
  }

  var startIndex: Int { 0 }
  var endIndex: Int { header.pointee.count }

  /// Descriptor `i`, read and written in place. Precondition: `0 ≤ i < count`.
  subscript(i: Int) -> ArenaObject {
    @inline(__always) unsafeAddress {
      precondition(i >= 0 && i < header.pointee.count, "arena index out of range")
      return UnsafePointer(header.pointee.elements + i)
    }
    @inline(__always) nonmutating unsafeMutableAddress {
      precondition(i >= 0 && i < header.pointee.count, "arena index out of range")
      return header.pointee.elements + i
    }
  }

  /// Appends a descriptor, doubling the storage when it is full (descriptors are plain values: they move
  /// bitwise).
  func append(_ arena: ArenaObject) {
    let h = header
    if h.pointee.count == h.pointee.capacity {
      let capacity = Swift.max(2 * h.pointee.capacity, PymallocLayout.initialArenaObjects)
      let grown = UnsafeMutablePointer<ArenaObject>.allocate(capacity: capacity)
      grown.moveInitialize(from: h.pointee.elements, count: h.pointee.count)
      h.pointee.elements.deallocate()
      h.pointee.elements = grown
      h.pointee.capacity = capacity
    }
    (h.pointee.elements + h.pointee.count).initialize(to: arena)
    h.pointee.count += 1
  }

  /// Forgets every descriptor (the storage is kept).
  func removeAll() { header.pointee.count = 0 }
}

/// A fixed row of optional descriptor indices (`nfp2lasta[0 … MAX_POOLS_IN_ARENA]`), nil for "none".
struct ArenaIndexTable: RandomAccessCollection {
  private let elements: UnsafeMutablePointer<Int?>
  let endIndex: Int
  var startIndex: Int { 0 }

  init(count: Int) {
    elements = UnsafeMutablePointer<Int?>.allocate(capacity: count)
    elements.initialize(repeating: nil, count: count)
    endIndex = count
  }

  func deallocate() { elements.deallocate() }

  /// Entry `i`. Precondition: `0 ≤ i < count` (a free-pool count, so at most MAX_POOLS_IN_ARENA).
  subscript(i: Int) -> Int? {
    @inline(__always) get {
      precondition(i >= 0 && i < endIndex, "nfp2lasta index out of range")
      return elements[i]
    }
    @inline(__always) nonmutating set {
      precondition(i >= 0 && i < endIndex, "nfp2lasta index out of range")
      elements[i] = newValue
    }
  }
}
