// DecodeCommand.swift — `alloc-check decode`: binary fuzz bytes of a family (default "pymalloc family v1";
// ``CLISupport/decode(_:family:)``) to the text form on stdout, ready to save as a corpus file. With
// `--target NAME`, the bytes are that fuzz target's input (heaps-schedule: its schedule is printed too).

import ArgumentParser
import FuzzTargets
import Harness

struct DecodeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "decode", abstract: "Print a binary program (fuzz bytes) in the text form.")

  @Argument(help: "Binary program file.") var file: String
  @Option(help: "Binary family: pymalloc (default), heaps or domains.") var family: String = "pymalloc"
  @Option(help: "Decode as this fuzz target's input instead (e.g. heaps-schedule: schedule + program).") var target: String?

  func run() throws {
    let bytes = try ProgramFiles.read(file)
    guard CLISupport.programFileKind(bytes) == .binary else {
      throw CLIError.usage("decode: \(file) is already a program text; alloc-check encode turns text into bytes")
    }
    if let target {
      guard let t = FuzzTargets.named(target) else {
        throw CLIError.usage("decode: unknown fuzz target \"\(target)\"; targets: \(FuzzTargets.all.map(\.name).joined(separator: ", "))")
      }
      let program = t.decode(bytes)
      Console.out(ProgramText.render(program, family: t.family, comments: [
        "decoded from \(file) (\(bytes.count) bytes, \(program.ops.count) ops) as a \(t.name) input",
      ] + t.inputComments(bytes)))
      return
    }
    let family = try CLISupport.parseFamily(family)
    let program = CLISupport.decode(bytes, family: family)
    // The parameters go in comments, so the output stays a valid program text.
    Console.out(ProgramText.render(program, family: family.rawValue, comments: ["decoded from \(file) (\(bytes.count) bytes, \(program.ops.count) ops)"]))
  }
}
