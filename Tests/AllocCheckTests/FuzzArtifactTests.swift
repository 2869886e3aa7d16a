// FuzzArtifactTests.swift — libFuzzer writes crash, leak, timeout and OOM inputs to its working directory (the
// package root) unless told otherwise (issue 15 part 4: three crash files were once committed there). Every
// argument vector the fuzz commands build (``LibFuzzerArguments``) must send them under crashes/<target>/ or
// .fuzz/<target>/; the check itself must refuse vectors that do not; every script line that starts a fuzz
// binary must pass its own prefix; and every launch in the command line's sources must use a built vector.
// (scripts/fuzz-check also fails when a real run left a libFuzzer file in the root.)

import Foundation
import FuzzTargets
import Testing

@Suite("Fuzz artifacts stay out of the package root")
struct FuzzArtifactTests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized

  @Test("every vector the fuzz commands build has -artifact_prefix under crashes/<target>/ or .fuzz/<target>/")
  func builtVectorsContainArtifacts() {
    #expect(!FuzzTargets.all.isEmpty)
    for t in FuzzTargets.all {
      let vectors: [(String, [String])] = [
        ("fuzz job", LibFuzzerArguments.campaign(target: t.name, options: ["-max_total_time=10", "-seed=1"], corpora: [".fuzz/\(t.name)/corpus"])),
        ("proof", LibFuzzerArguments.proof(target: t.name, corpus: "/tmp/empty")),
        ("merge", LibFuzzerArguments.merge(target: t.name, into: ".fuzz/\(t.name)/corpus.merging", from: ".fuzz/\(t.name)/corpus")),
        ("minimize", LibFuzzerArguments.minimize(target: t.name, seconds: 30, input: "/tmp/in", output: "/tmp/out")),
      ]
      for (what, args) in vectors {
        #expect(LibFuzzerArguments.artifactsContained(args, target: t.name), "\(t.name) \(what): \(args)")
        let dirs = LibFuzzerArguments.artifactDirectories(target: t.name)
        let prefix = args.first { $0.hasPrefix("-artifact_prefix=") }?.dropFirst("-artifact_prefix=".count) ?? ""
        #expect(dirs.contains { prefix.hasPrefix($0) }, "\(t.name) \(what): the directory of \(prefix) is made before the run")
      }
    }
  }

  @Test("the containment check refuses a missing, root, sibling, escaping, unterminated or doubled prefix")
  func checkCanFail() {
    let bad: [[String]] = [
      ["-runs=1000", "corpus"],
      ["-artifact_prefix=./", "corpus"],
      ["-artifact_prefix=", "corpus"],
      ["-artifact_prefix=crashes/pymalloc", "corpus"],  // libFuzzer concatenates: crashes/pymalloccrash-…
      ["-artifact_prefix=crashes/heaps/", "corpus"],
      ["-artifact_prefix=crashes/pymalloc/../../", "corpus"],
      ["-artifact_prefix=/tmp/x/", "corpus"],
      ["-artifact_prefix=crashes/pymalloc/", "-artifact_prefix=./"],
    ]
    for args in bad { #expect(!LibFuzzerArguments.artifactsContained(args, target: "pymalloc"), "\(args)") }
    #expect(LibFuzzerArguments.artifactsContained(["-artifact_prefix=crashes/pymalloc/"], target: "pymalloc"))
    #expect(LibFuzzerArguments.artifactsContained(["-artifact_prefix=.fuzz/pymalloc/minimize/"], target: "pymalloc"))
  }

  /// Lines of `dir`'s files (not comments) that satisfy `matches`, as "file:line: text".
  static func lines(in dir: String, suffix: String = "", where matches: (String) -> Bool) throws -> [String] {
    let url = root.appendingPathComponent(dir)
    var out: [String] = []
    for name in try FileManager.default.contentsOfDirectory(atPath: url.path).sorted() where name.hasSuffix(suffix) {
      let path = url.appendingPathComponent(name)
      var isDir: ObjCBool = false
      guard FileManager.default.fileExists(atPath: path.path, isDirectory: &isDir), !isDir.boolValue,
            let text = try? String(contentsOf: path, encoding: .utf8) else { continue }
      for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        let code = line.trimmingCharacters(in: .whitespaces)
        if code.hasPrefix("#") || code.hasPrefix("//") { continue }
        if matches(String(line)) { out.append("\(dir)/\(name):\(n + 1): \(code)") }
      }
    }
    return out
  }

  @Test("every script line that starts a libFuzzer run passes -artifact_prefix")
  func scriptsPassPrefix() throws {
    let runFlags = ["-runs=", "-max_total_time=", "-merge=1", "-minimize_crash=1"]
    let runs = try Self.lines(in: "scripts") { l in runFlags.contains { l.contains($0) } }
    #expect(runs.count >= 3, "fuzz-check, oss-fuzz-check and time-to-detect start fuzz binaries: \(runs)")
    let missing = runs.filter { !$0.contains("-artifact_prefix=") }
    #expect(missing.isEmpty, "libFuzzer runs without -artifact_prefix write into the package root:\n\(missing.joined(separator: "\n"))")
    let inTemp = runs.filter { $0.contains("-artifact_prefix=$empty") || $0.contains("-artifact_prefix=/tmp") }
    #expect(inTemp.isEmpty, "a crash written to a temporary folder is lost: \(inTemp)")
  }

  @Test("every fuzz-binary launch in the command line uses a LibFuzzerArguments vector")
  func cliLaunchesUseBuiltVectors() throws {
    let launches = try Self.lines(in: "Sources/AllocCheckCLI", suffix: ".swift") { l in
      l.contains("runCapturing(FuzzWorkspace.binary(") || l.contains("runCapturing(binary(")
        || l.contains("fileURLWithPath: FuzzWorkspace.binary(")
    }
    #expect(launches.count >= 4, "fuzz jobs, proof, merge and minimize launch fuzz binaries: \(launches)")
    let dir = Self.root.appendingPathComponent("Sources/AllocCheckCLI")
    for launch in launches {
      let file = String(launch.split(separator: ":")[0].split(separator: "/").last!)
      let text = try String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8)
      #expect(text.contains("LibFuzzerArguments."), "\(launch): the vector must come from LibFuzzerArguments")
      #expect(!text.contains("\"-artifact_prefix="), "\(file) spells its own -artifact_prefix instead of LibFuzzerArguments'")
    }
  }
}
