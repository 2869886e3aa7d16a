// Mimalloc+QueueInvariants.swift — MI6: the page queues of every live heap (the whole walk), one queue at a
// time (``checkQueue(_:_:_:serial:sink:)``, which the local check runs on the touched page's queue). A page
// is stamped with the walk's serial when its queue walk reaches it, so a page met twice is in two queues
// (or its queue loops), and an unstamped used page of an owned segment is in none (the whole walk checks
// that in its pass over the segments' spans).

extension Mimalloc {
  /// MI6: every live heap's queues and page count, stamping every queued page with `serial`.
  func checkQueues(threads: [MiThread], serial: UInt64, sink: inout ViolationSink) {
    for thread in threads where thread.isAlive {
      for heap in thread.heaps { checkQueues(of: heap, serial: serial, sink: &sink) }
    }
  }

  /// MI6 for every queue of one heap and its page count (the local check after a fresh page).
  func checkQueues(of heap: Heap, serial: UInt64, sink: inout ViolationSink) {
    // One copy of the 75 heads (one access to the heap; most queues are empty).
    let queues = heap.queues
    var total = 0
    for q in queues.indices where queues[q].first != nil || queues[q].last != nil {  // else sound and empty
      total += checkQueue(heap, q, queues[q], serial: serial, sink: &sink)
    }
    if total != heap.pageCount { sink.fail("MI6", "heap \(heap.serial): page_count \(heap.pageCount) != \(total) queued") }
  }

  /// MI6 for `queue`, queue `q` of `heap`: back links and tail, each page used, of a live segment, owned by
  /// `heap`, in the queue its `inFull` flag and block size name, not QSBR-parked in the full queue. Stamps
  /// every page met with `serial`. Returns the number of pages counted (up to the first one met twice).
  @discardableResult
  func checkQueue(_ heap: Heap, _ q: Int, _ queue: MiPageQueue, serial: UInt64, sink: inout ViolationSink) -> Int {
    var total = 0
    var prev: MiPage? = nil
    var p = queue.first
    while let page = p {
      guard page.walkMarks.queued != serial else {
        sink.fail("MI6", "heap \(heap.serial) queue \(q): page \(hex(Int(bitPattern: page.spanStart))) is in another queue too")
        break
      }
      page.walkMarks.queued = serial
      if page.prev !== prev { sink.fail("MI6", "heap \(heap.serial) queue \(q): broken back link") }
      if !page.isUsed || page.segment.isReleased {
        sink.fail("MI6", "heap \(heap.serial) queue \(q): holds a free span or a page of a released segment")
      } else {
        let owner = page.heap
        if owner !== heap {
          sink.fail("MI6", "heap \(heap.serial) queue \(q): page's xheap is heap \(owner.map { "\($0.serial)" } ?? "nil")")
        }
        let expected = page.isLargeOrHuge ? MiConst.binHuge : SizeClass.bin(page.blockSize)
        if page.inFull != (q == MiConst.binFull) || (!page.inFull && q != expected) {
          sink.fail("MI6", "heap \(heap.serial): page bsize \(page.blockSize) inFull \(page.inFull) in queue \(q) (size queue \(expected))")
        }
        if page.qsbrGoal != 0 && q == MiConst.binFull {
          sink.fail("MI6", "heap \(heap.serial): QSBR-parked page bsize \(page.blockSize) in the full queue (gh-145615)")
        }
      }
      total += 1
      prev = page
      p = page.next
    }
    if queue.last !== prev { sink.fail("MI6", "heap \(heap.serial) queue \(q): last is not the tail") }
    return total
  }
}
