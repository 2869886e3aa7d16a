// CorpusReplayTests.swift — every file of every fuzz target's corpus (`corpus/<target>/`: seeds and
// regressions/, kept forever) is replayed through the normal executor with every rule on, decoded by the
// target that owns the folder (``FuzzTargets``); a binary seed with a text twin must decode to exactly the
// twin's program, so the committed binary format can never drift. `ALLOC_CHECK_EXTRA_CORPUS=DIR` replays
// the binary inputs of DIR too (scripts/coverage uses it for the fuzzers' working corpus).

import Foundation
import FuzzTargets
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

  /// The target owning `relative` (its first path component names the folder).
  static func target(_ relative: String) -> FuzzTarget? {
    FuzzTargets.named(String(relative.prefix { $0 != "/" }))
  }

  static func program(_ relative: String) throws -> Program {
    let data = try Data(contentsOf: root.appendingPathComponent(relative))
    if relative.hasSuffix(".txt") { return try ProgramText.parse(String(decoding: data, as: UTF8.self)) }
    // Recorded CPython traces (corpus/pymalloc/traces/) are longer than the fuzz target's op limit: the
    // fuzzer reads their first 4,096 ops, the replay all of them.
    if relative.contains("/traces/") { return OpDecoder.decodePymalloc([UInt8](data)) }
    return (target(relative) ?? PymallocOpsTarget.target).decode([UInt8](data))
  }

  /// Files of `ALLOC_CHECK_EXTRA_CORPUS` (absolute paths), if set.
  static var extraFiles: [String] {
    guard let dir = ProcessInfo.processInfo.environment["ALLOC_CHECK_EXTRA_CORPUS"], !dir.isEmpty else { return [] }
    let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
    return names.sorted().map { dir + "/" + $0 }
  }
}

@Suite("Corpus replay")
struct CorpusReplayTests {
  @Test("the corpus is not empty, and every target's folder has seeds")
  func notEmpty() {
    #expect(Corpus.files.count >= 8, "found \(Corpus.files) under \(Corpus.root.path)")
    for t in FuzzTargets.all { #expect(Corpus.files.contains { $0.hasPrefix(t.name + "/") }, "corpus/\(t.name)/ has no seeds") }
  }

  @Test("each corpus file passes every rule", arguments: Corpus.files)
  func replay(_ file: String) throws {
    let t = try #require(Corpus.target(file), "corpus/\(file) is in no registered target's folder")
    // A differential target's peer keeps its state for the life of the process: DifferentialTests replays
    // those folders in a child process.
    if t.differential { return }
    let adapter = try #require(t.makeAdapter([]))
    // A schedule target's binary input runs in parallel under its own schedule.
    if t.scheduled != nil, file.hasSuffix(".bin") {
      let v = t.run([UInt8](try Data(contentsOf: Corpus.root.appendingPathComponent(file))), on: adapter)
      #expect(v == nil, "corpus/\(file): \(v.map { "\($0)" } ?? "")\nreplay: swift run -c release alloc-check repro corpus/\(file)")
      return
    }
    let verdict = Executor.run(try Corpus.program(file), on: adapter, config: ExecutorConfig(oracle: t.oracle))
    #expect(verdict.passed, "corpus/\(file): \(verdict.violation.map { "\($0)" } ?? "")\nreplay: swift run -c release alloc-check repro corpus/\(file)")
  }

  @Test("binary seeds decode to exactly their text twins", arguments: Corpus.files.filter { $0.hasSuffix(".bin") })
  func binaryMatchesText(_ file: String) throws {
    let twin = String(file.dropLast(4)) + ".txt"
    guard Corpus.files.contains(twin) else { return }
    #expect(try Corpus.program(file) == (try Corpus.program(twin)), "corpus/\(file) no longer decodes to corpus/\(twin)")
  }

  @Test("every regression is a .bin with its .txt twin or a program text")
  func regressionsHaveTwins() {
    for f in Corpus.files where f.contains("/regressions/") && f.hasSuffix(".bin") {
      #expect(Corpus.files.contains(String(f.dropLast(4)) + ".txt"), "corpus/\(f) has no text twin")
    }
  }

  @Test("extra corpus inputs (ALLOC_CHECK_EXTRA_CORPUS, e.g. .fuzz/pymalloc/corpus) pass every rule")
  func extraCorpus() throws {
    // The target is the one named by a component of the folder's path (.fuzz/<target>/corpus).
    let dir = ProcessInfo.processInfo.environment["ALLOC_CHECK_EXTRA_CORPUS"] ?? ""
    let t = dir.split(separator: "/").reversed().lazy.compactMap { FuzzTargets.named(String($0)) }.first ?? PymallocOpsTarget.target
    let adapter = try #require(t.makeAdapter([]))
    var failures: [String] = []
    for path in Corpus.extraFiles {
      guard let bytes = try? [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) else { continue }
      if let v = t.run(bytes, on: adapter) { failures.append("\(path): \(v)") }
    }
    #expect(failures.isEmpty, "\(failures.prefix(5))")
  }
}
