// BugsCommand.swift — `alloc-check bugs`: every seeded ``PymallocBug``, the check that must catch it
// (``PymallocBug/caughtBy``) and what it breaks, one line each (from the doc comments in SeededBug.swift;
// the switch is exhaustive, so a new bug cannot be added without its line here).

import AllocUnderTest
import ArgumentParser
import Harness

struct BugsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bugs", abstract: "List the seeded pymalloc, mimalloc and domain bugs and the check that catches each.")

  func run() {
    let width = PymallocBug.allCases.map(\.rawValue.count).max()! + 2
    var text = "alloc-check bugs: \(PymallocBug.allCases.count) seeded pymalloc bugs (use with --bug NAME)\n"
    text += "bug".padding(toLength: width, withPad: " ", startingAt: 0) + "caught by  defect\n"
    for bug in PymallocBug.allCases {
      text += bug.rawValue.padding(toLength: width, withPad: " ", startingAt: 0)
        + bug.caughtBy.padding(toLength: 11, withPad: " ", startingAt: 0) + Self.meaning(bug) + "\n"
    }
    let mwidth = MimallocBug.allCases.map(\.rawValue.count).max()! + 2
    text += "\n\(MimallocBug.allCases.count) seeded mimalloc bugs (heaps family: use with --family heaps --bug NAME)\n"
    text += "bug".padding(toLength: mwidth, withPad: " ", startingAt: 0) + "caught by  upstream\n"
    for bug in MimallocBug.allCases {
      text += bug.rawValue.padding(toLength: mwidth, withPad: " ", startingAt: 0)
        + bug.caughtBy.padding(toLength: 11, withPad: " ", startingAt: 0) + (bug.upstreamIssue ?? "—") + "\n"
    }
    let dwidth = DomainBug.allCases.map(\.rawValue.count).max()! + 2
    text += "\n\(DomainBug.allCases.count) seeded domain / debug-hook bugs (domains family: use with --family domains --bug NAME)\n"
    text += "bug".padding(toLength: dwidth, withPad: " ", startingAt: 0) + "caught by  direct check\n"
    for bug in DomainBug.allCases {
      let rule = CLISupport.domainRule(of: bug) ?? "—"
      let unreachable = CLISupport.domainBugsUnreachable[bug].map { "; not reachable from programs: \($0)" } ?? ""
      let name: String = bug.rawValue.padding(toLength: dwidth, withPad: " ", startingAt: 0)
      text += name + rule.padding(toLength: 11, withPad: " ", startingAt: 0) + bug.caughtBy + unreachable + "\n"
    }
    Console.out(text)
  }

  static func meaning(_ bug: PymallocBug) -> String {
    switch bug {
    case .misalignTinyBlocks: "requests of 1…8 bytes get a pointer 8 bytes into their 16-byte block"
    case .handOutBlockTwice: "in class 5 (96 bytes) the third block of a pool is handed out twice"
    case .sizeClassOffByOne: "requests 16k+1 (k ≥ 1) get the class one below"
    case .freeScribblesOnNeighbour: "free scribbles over bytes 8..<16 of the block just below in the pool"
    case .callocSkipsZeroing: "calloc of a small block skips the memset"
    case .reallocSkipsCopy: "a moving realloc does not copy the old contents"
    case .reallocKeepsOldBlock: "a moving realloc does not free the old block"
    case .mallocFailsAt256: "malloc(256) fails although memory is available"
    case .statsOverCountClass3: "class 3 (64 bytes) reports one block more in use than it has"
    case .statsExtraPoolClass0: "num pools of class 0 is reported one too high"
    case .neverReleaseArenas: "a wholly free arena is never returned to the OS (also PM5)"
    case .routeSmallToRaw: "requests of 100…111 bytes go to the raw allocator instead of a pool"
    case .releaseArenaWithUsedPool: "an arena is released while one pool is still used (Case 1 off by one)"
    case .loseFreedBlock: "a freed block is counted but not pushed on its pool's free list"
    case .fullPoolNotRelinked: "a full pool that gets a block back is not linked into usedpools"
    case .skipArenaResort: "Case 3 of insert_to_freepool (re-sort after lastnf) is skipped"
    case .radixNotUnmarked: "a released arena is not unmarked in the arena map"
    case .highwaterNotUpdated: "the arena highwater mark is never raised"
    case .reallocShrinkThresholdHalf: "fidelity (diff --peer cpython): realloc keeps a block that shrinks by up to half in place"
    case .freeListFIFO: "fidelity (diff --peer cpython): freed blocks join the tail of the pool's free list"
    case .releaseLastFreeArena: "fidelity (diff --peer cpython): the last wholly free arena is released (bpo-37257 undone)"
    case .statsQuantizationWrong: "fidelity (diff --peer cpython): the stats text's quantization line ignores the pool header"
    case .arenaFailureReturnsNull: "fault path (alloc-check faults): a small request whose arena mmap failed returns NULL instead of going to raw"
    case .radixFailureLeaksArena: "fault path (alloc-check faults): a failed radix-node allocation drops the new arena without unmapping it"
    }
  }
}
