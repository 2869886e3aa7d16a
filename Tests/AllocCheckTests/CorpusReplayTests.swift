// CorpusReplayTests.swift — every file of every target's corpus (seeds and regressions/, kept forever) is
// replayed through the normal executor with every rule on; a binary seed with a text twin must decode to
// exactly the twin's program, so the committed binary format can never drift.

import Foundation
import Harness
import Testing

enum Corpus {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../corpus").standardized

  /// Every program file under corpus/ (text `.txt` or binary `.bin`), as paths relative to corpus/.
  static var files: [String] {
    let fm = FileManager.default
    guard let e = fm.enumerator(atPath: root.path) else { return [] }
    return e.compactMap { $0 as? String }.filter { $0.hasSuffix(".txt") || $0.hasSuffix(".bin") }.sorted()
  }

  static func program(_ relative: String) throws -> Program {
    let data = try Data(contentsOf: root.appendingPathComponent(relative))
    if relative.hasSuffix(".txt") { return try ProgramText.parse(String(decoding: data, as: UTF8.self)) }
    return OpDecoder.decodePymalloc([UInt8](data))
  }
}

@Suite("Corpus replay")
struct CorpusReplayTests {
  @Test("the corpus is not empty")
  func notEmpty() { #expect(Corpus.files.count >= 8, "found \(Corpus.files) under \(Corpus.root.path)") }

  @Test("each corpus file passes every rule", arguments: Corpus.files)
  func replay(_ file: String) throws {
    let verdict = Executor.run(try Corpus.program(file), on: PymallocAdapter())
    #expect(verdict.passed, "corpus/\(file): \(verdict.violation.map { "\($0)" } ?? "")\nreplay: swift run alloc-check run corpus/\(file)")
  }

  @Test("binary seeds decode to exactly their text twins", arguments: Corpus.files.filter { $0.hasSuffix(".bin") })
  func binaryMatchesText(_ file: String) throws {
    let twin = String(file.dropLast(4)) + ".txt"
    guard Corpus.files.contains(twin) else { return }
    #expect(try Corpus.program(file) == (try Corpus.program(twin)), "corpus/\(file) no longer decodes to corpus/\(twin)")
  }
}
