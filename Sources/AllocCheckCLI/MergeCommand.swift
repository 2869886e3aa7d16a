// MergeCommand.swift — `alloc-check merge`: minimizes a target's working corpus (`.fuzz/<target>/corpus`)
// with libFuzzer's `-merge=1`, keeping every coverage feature. The committed seeds and regressions are
// merged in *first*, so the working corpus keeps only what adds coverage beyond them, and they themselves
// are never touched (they live in corpus/<target>/, which merge only reads). The old corpus is kept as
// `.fuzz/<target>/corpus.before-merge` until the next merge.

import ArgumentParser
import Foundation
import FuzzTargets
import Harness

struct MergeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "merge", abstract: "Minimize the working fuzz corpus without losing coverage (libFuzzer -merge=1).")

  @Argument(help: "Targets (default: all).") var targets: [String] = []
  @Flag(help: "Do not build; use the binaries in .build-fuzz as they are.") var noBuild = false

  func run() throws {
    try FuzzWorkspace.requirePackageRoot()
    let chosen = try FuzzWorkspace.targets(targets, all: targets.isEmpty)
    if !noBuild { try FuzzWorkspace.build(chosen) }
    let fm = FileManager.default
    for t in chosen {
      try FuzzWorkspace.checkFuzzes(t)
      let work = FuzzWorkspace.workCorpus(t)
      try ProgramFiles.makeDirectory(work)
      let seeds = try FuzzWorkspace.stageSeeds(t)
      let before = FuzzWorkspace.fileCount(work)
      let fresh = work + ".merging"
      try? fm.removeItem(atPath: fresh)
      try fm.createDirectory(atPath: fresh, withIntermediateDirectories: true)
      // The staged seeds go into the output first: merge keeps what is already there and adds only inputs
      // with new features. They are removed again afterwards (corpus/<t>/ holds them).
      let seedNames = try fm.contentsOfDirectory(atPath: FuzzWorkspace.stagedSeeds(t))
      for s in seedNames { try fm.copyItem(atPath: FuzzWorkspace.stagedSeeds(t) + "/" + s, toPath: fresh + "/" + s) }
      Console.err("merge: \(FuzzWorkspace.binary(t)) -merge=1 \(fresh) \(work)")
      try FuzzWorkspace.makeArtifactDirectories(t)
      let (status, log) = try FuzzWorkspace.runCapturing(FuzzWorkspace.binary(t), LibFuzzerArguments.merge(target: t.name, into: fresh, from: work),
                                                         env: FuzzWorkspace.environment(bugs: []))
      guard status == 0 else {
        try? fm.removeItem(atPath: fresh)
        throw CLIError.usage("merge of \(t.name) failed (exit \(status)); the working corpus is unchanged. Log tail: \(log.suffix(400))")
      }
      for s in seedNames { try? fm.removeItem(atPath: fresh + "/" + s) }
      let old = work + ".before-merge"
      try? fm.removeItem(atPath: old)
      try fm.moveItem(atPath: work, toPath: old)
      try fm.moveItem(atPath: fresh, toPath: work)
      let after = FuzzWorkspace.fileCount(work)
      let summary = log.split(separator: "\n").last { $0.contains("MERGE-OUTER: ") && $0.contains("new files") } ?? ""
      Console.out("merge: \(t.name): working corpus \(before) → \(after) inputs (\(seeds) committed seeds and regressions "
                  + "counted first, never dropped); \(summary)\n  previous corpus kept in \(old)")
    }
  }
}
