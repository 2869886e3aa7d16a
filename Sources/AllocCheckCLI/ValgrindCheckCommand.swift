// ValgrindCheckCommand.swift — `alloc-check valgrind-check`: says whether the Valgrind annotations were
// compiled in and whether the process runs under Valgrind, and, under memcheck, proves the annotations
// bite: each probe makes one deliberate bad access inside the reference allocators' own memory (a write
// and a read after free, a write past the end into a free neighbour) and checks that memcheck's error count
// went up. Without the pool annotations memcheck sees only mapped memory and reports none of them.
// scripts/stress-valgrind runs it first (`--compiled-in`) and in its proof step.

import AllocUnderTest
import ArgumentParser
import Foundation
import Harness

struct ValgrindCheckCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "valgrind-check",
    abstract: "Report the Valgrind annotation status; under memcheck, prove that use after free is reported.",
    discussion: """
      Exit codes: 0 every probe was reported by memcheck (or, without --probes, the status was printed);
      1 a probe went unreported, or --compiled-in and the annotations are not compiled in; 2 --probes outside
      memcheck. Run: valgrind --tool=memcheck .build/release/alloc-check valgrind-check --probes
      """)

  @Flag(help: "Only check that the annotations were compiled in (exit 1 if not).") var compiledIn = false
  @Flag(help: "Run the use-after-free probes (needs memcheck).") var probes = false

  func run() throws {
    Console.out("valgrind annotations: \(Memcheck.compiledIn ? "compiled in" : "NOT compiled in (no valgrind/memcheck.h)")")
    Console.out("running under valgrind: \(Memcheck.running ? "yes" : "no")")
    if compiledIn && !Memcheck.compiledIn { throw ExitCode(1) }
    guard probes else { return }
    guard Memcheck.running else { throw CLIError.usage("--probes needs memcheck: valgrind --tool=memcheck \(CommandLine.arguments.joined(separator: " "))") }
    var missed: [String] = []
    for probe in ValgrindProbe.all {
      let before = Memcheck.errorCount
      probe.run()
      let after = Memcheck.errorCount
      let caught = after > before
      Console.out("\(caught ? "caught " : "MISSED ") \(probe.name) (memcheck errors \(before) → \(after))")
      if !caught { missed.append(probe.name) }
    }
    if !missed.isEmpty {
      Console.out("memcheck did not report: \(missed.joined(separator: ", "))")
      throw ExitCode(1)
    }
    Console.out("every probe was reported")
  }
}

/// One deliberate bad access inside an allocator's own pages.
struct ValgrindProbe: Sendable {
  var name: String
  var run: @Sendable () -> Void

  static let all: [ValgrindProbe] = [
    ValgrindProbe(name: "pymalloc: write after free (a pool block)") {
      let pm = Pymalloc()
      guard let p = pm.malloc(48).map({ Int(bitPattern: $0) }), let keep = pm.malloc(48) else { return }
      pm.free(UnsafeMutableRawPointer(bitPattern: p))
      MemoryAccess.writeUnchecked(address: p + 16, bytes: [0x41])
      pm.free(keep)
    },
    ValgrindProbe(name: "pymalloc: read past the end into a never-used block") {
      let pm = Pymalloc()
      guard let p = pm.malloc(64).map({ Int(bitPattern: $0) }) else { return }
      _ = MemoryAccess.readUnchecked(address: p + 64 * 3, count: 1)
      pm.free(UnsafeMutableRawPointer(bitPattern: p))
    },
    ValgrindProbe(name: "mimalloc: write after a local free") {
      let mi = Mimalloc()
      let heap = mi.mainThread.heap(.mem)
      guard let p = heap.malloc(100), let keep = heap.malloc(100) else { return }
      mi.mainThread.free(p)
      MemoryAccess.writeUnchecked(address: p + 8, bytes: [0x41])
      mi.mainThread.free(keep)
    },
    ValgrindProbe(name: "mimalloc: read after a cross-thread free") {
      let mi = Mimalloc()
      let owner = mi.newThread()
      guard let p = owner.heap(.object).malloc(2000), let keep = owner.heap(.object).malloc(2000) else { return }
      mi.mainThread.free(p)  // another thread state: the remote path
      _ = MemoryAccess.readUnchecked(address: p + 100, count: 1)
      owner.free(keep)
      owner.exit()
    },
  ]
}
