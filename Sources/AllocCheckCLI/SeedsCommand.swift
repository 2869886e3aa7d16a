// SeedsCommand.swift — `alloc-check seeds`: writes each target's generated seeds (``FuzzTarget/seeds``, as
// `.bin` + `.txt` twins made by the encoder) and its libFuzzer dictionary into `corpus/<target>/`; with
// `--check`, only compares and exits 1 if a committed file differs (the corpus replay test checks the same).

import ArgumentParser
import Foundation
import FuzzTargets
import Harness

struct SeedsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "seeds", abstract: "Write the generated fuzz seeds and dictionary of each target into corpus/<target>/.")

  @Argument(help: "Targets (default: all).") var targets: [String] = []
  @Flag(help: "Only check that the committed files equal the generated ones.") var check = false

  func run() throws {
    try FuzzWorkspace.requirePackageRoot()
    var stale: [String] = []
    for t in try FuzzWorkspace.targets(targets, all: targets.isEmpty) {
      let dir = FuzzWorkspace.corpusDir(t)
      let files = FuzzCorpusFiles.seedFiles(t) + [(FuzzCorpusFiles.dictionaryName(t), Array(FuzzCorpusFiles.dictionaryText(t.dictionary).utf8))]
      for f in files {
        let path = dir + "/" + f.name
        let current = try? ProgramFiles.read(path)
        if current == f.bytes { continue }
        if check { stale.append(path); continue }
        try ProgramFiles.makeDirectory(dir)
        try ProgramFiles.write(f.bytes, to: path)
        Console.out("wrote \(path)")
      }
      Console.out("seeds: \(t.name): \(t.seeds.count) generated seeds and \(t.dictionary.count) dictionary entries \(check ? "checked" : "up to date") in \(dir)/")
    }
    if !stale.isEmpty {
      Console.out("seeds: out of date (run alloc-check seeds): " + stale.joined(separator: ", "))
      throw ExitCode(1)
    }
  }
}
