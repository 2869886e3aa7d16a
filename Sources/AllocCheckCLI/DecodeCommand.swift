// DecodeCommand.swift — `alloc-check decode`: binary fuzz bytes of a family (default "pymalloc family v1";
// ``CLISupport/decode(_:family:)``) to the text form on stdout, ready to save as a corpus file.

import ArgumentParser
import Harness

struct DecodeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "decode", abstract: "Print a binary program (fuzz bytes) in the text form.")

  @Argument(help: "Binary program file.") var file: String
  @Option(help: "Binary family: pymalloc (default), heaps or domains.") var family: String = "pymalloc"

  func run() throws {
    let bytes = try ProgramFiles.read(file)
    guard CLISupport.programFileKind(bytes) == .binary else {
      throw CLIError.usage("decode: \(file) is already a program text; alloc-check encode turns text into bytes")
    }
    let family = try CLISupport.parseFamily(family)
    let program = CLISupport.decode(bytes, family: family)
    // The parameters go in comments, so the output stays a valid program text.
    Console.out(ProgramText.render(program, family: family.rawValue, comments: ["decoded from \(file) (\(bytes.count) bytes, \(program.ops.count) ops)"]))
  }
}
