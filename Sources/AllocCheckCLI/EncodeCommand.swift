// EncodeCommand.swift — `alloc-check encode`: a program text to canonical binary bytes of its family
// (``CLISupport/encode(_:family:)``), e.g. to seed a fuzzer corpus; checks the bytes decode back to it.

import ArgumentParser
import Harness

struct EncodeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "encode", abstract: "Write a program text as binary fuzz bytes.")

  @Argument(help: "Program text file.") var file: String
  @Option(help: "Where to write the bytes.") var out: String

  func run() throws {
    let loaded = try ProgramFiles.loadProgram(file)
    guard loaded.kind == .text else {
      throw CLIError.usage("encode: \(file) is not a program text (no '\(ProgramText.header)' line); it is already binary")
    }
    let live = CLISupport.maxLiveBlocks(loaded.program)
    guard live < Int(OpDecoder.nullRef) else {
      throw CLIError.usage("encode: \(file) holds \(live) blocks at once; the binary format addresses at most 65534")
    }
    let bytes = CLISupport.encode(loaded.program, family: loaded.family)
    precondition(CLISupport.decode(bytes, family: loaded.family) == loaded.program, "the \(loaded.family) encoder did not round-trip")
    Console.out("alloc-check encode: \(file) (\(loaded.family.rawValue) family, \(loaded.program.ops.count) ops) → \(out) (\(bytes.count) bytes)")
    try ProgramFiles.write(bytes, to: out)
  }
}
