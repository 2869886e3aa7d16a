// DecodeCommand.swift — `alloc-check decode`: binary fuzz bytes ("pymalloc family v1", decoded by
// ``OpDecoder/decodePymalloc(_:maxOps:)``) to the text form on stdout, ready to save as a corpus file.

import ArgumentParser
import Harness

struct DecodeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "decode", abstract: "Print a binary program (fuzz bytes) in the text form.")

  @Argument(help: "Binary program file.") var file: String

  func run() throws {
    let bytes = try ProgramFiles.read(file)
    guard CLISupport.programFileKind(bytes) == .binary else {
      throw CLIError.usage("decode: \(file) is already a program text; alloc-check encode turns text into bytes")
    }
    let program = OpDecoder.decodePymalloc(bytes)
    // The parameters go in comments, so the output stays a valid program text.
    Console.out(ProgramText.render(program, comments: ["decoded from \(file) (\(bytes.count) bytes, \(program.ops.count) ops)"]))
  }
}
