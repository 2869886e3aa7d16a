// ProgramFiles.swift — reading and writing the files the commands take and make: program files (text or
// fuzz bytes, told apart by ``CLISupport/programFileKind(_:)``), shrunk programs and soak crash folders.
// Every failure becomes a ``CLIError`` naming the path and the reason.

import Foundation
import Harness

enum ProgramFiles {
  static func read(_ path: String) throws(CLIError) -> [UInt8] {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
      throw .unreadableFile(path: path, reason: "no such file")
    }
    guard !isDirectory.boolValue else { throw .unreadableFile(path: path, reason: "is a directory") }
    do {
      return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    } catch {
      throw .unreadableFile(path: path, reason: FileManager.default.isReadableFile(atPath: path) ? "\(error)" : "permission denied")
    }
  }

  static func write(_ bytes: [UInt8], to path: String) throws(CLIError) {
    do {
      try Data(bytes).write(to: URL(fileURLWithPath: path))
    } catch {
      throw .unwritableFile(path: path, reason: (error as NSError).localizedFailureReason ?? "\(error)")
    }
  }

  static func write(_ text: String, to path: String) throws(CLIError) { try write(Array(text.utf8), to: path) }

  static func makeDirectory(_ path: String) throws(CLIError) {
    do {
      try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    } catch {
      throw .unwritableFile(path: path, reason: "cannot create the directory")
    }
  }

  static func loadProgram(_ path: String) throws(CLIError) -> CLISupport.LoadedProgram {
    try CLISupport.loadProgram(read(path), name: path)
  }
}
