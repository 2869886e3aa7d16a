// StatsCommand.swift — `alloc-check stats`: runs one program without the teardown frees and prints
// pymalloc's statistics in the layout of CPython's `sys._debugmallocstats()` (``AllocatorAdapter/statsText()``),
// so the arenas and pools the program left behind can be read as CPython would show them.

import ArgumentParser
import Harness

struct StatsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "stats",
    abstract: "Run a program without teardown and print pymalloc's sys._debugmallocstats() section.")

  @OptionGroup var source: ProgramSourceOptions
  @OptionGroup var allocator: AllocatorOptions

  func run() throws {
    let src = try source.resolve(command: "stats")
    let alloc = try allocator.resolve()
    Console.parameters("stats", [("program", src.origin), ("run seed", "\(hex(src.runSeed)) (\(src.runSeedNote))")]
                         + alloc.rows + [("teardown", "off: the stats show the blocks still live at the end")])
    let adapter = alloc.makeAdapter()
    let verdict = Executor.run(src.program, on: adapter,
                               config: ExecutorConfig(oracle: alloc.oracle, runSeed: src.runSeed, teardown: false,
                                                      recordTrace: false))
    if let v = verdict.violation {
      Console.out(describe(v, programLength: src.program.ops.count))
      Console.out("(the statistics below are the state when the run stopped)")
    } else {
      Console.out("PASS (\(verdict.opsExecuted) ops, no teardown)")
    }
    Console.out(adapter.statsText() ?? "(this allocator keeps no statistics)")
  }
}
