// FuzzTargetTests.swift — the fuzz targets and the pure parts of the fuzz tooling: the registry (every
// target has its product, corpus folder, dictionary and generated seeds committed and up to date), the seeds
// reach every op kind and every size-class boundary, each target's body traps on a seeded bug with the
// one-line reason (an exit test) and passes without it, crash triage, libFuzzer output parsing, the run
// samples, and the PNG writer (CRC-32, Adler-32, stored zlib blocks decode back to the pixels).

import Foundation
import FuzzTargets
import Harness
import Oracle
import Testing

@Suite("Fuzz targets")
struct FuzzTargetTests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized

  @Test("every registered target has a product in Package.swift, a corpus folder with regressions/, and a dictionary")
  func registry() throws {
    let manifest = try String(contentsOf: Self.root.appendingPathComponent("Package.swift"), encoding: .utf8)
    #expect(Set(FuzzTargets.all.map(\.name)).count == FuzzTargets.all.count, "target names are unique")
    for t in FuzzTargets.all {
      #expect(manifest.contains(".executable(name: \"\(t.product)\""), "Package.swift declares no product \(t.product)")
      var isDir: ObjCBool = false
      let regressions = Self.root.appendingPathComponent("corpus/\(t.name)/regressions").path
      #expect(FileManager.default.fileExists(atPath: regressions, isDirectory: &isDir) && isDir.boolValue, "\(regressions)")
      #expect(FuzzTargets.named(t.product)?.name == t.name && FuzzTargets.named(t.name)?.product == t.product)
      // oss-fuzz/build.sh and scripts/fuzz-check find the corpus of product fuzz-<name>-ops by this rule.
      // Differential targets are named fuzz-<family>-diff, so <name> is <family>-diff.
      #expect(t.product == (t.differential ? "fuzz-\(t.name)" : "fuzz-\(t.name)-ops"),
              "product \(t.product) does not follow fuzz-<name>-ops (fuzz-<family>-diff for a differential target)")
    }
    // And every corpus folder belongs to a target, so the replay decodes it with the right family.
    let folders = try FileManager.default.contentsOfDirectory(atPath: Self.root.appendingPathComponent("corpus").path)
    for f in folders where !f.hasPrefix(".") { #expect(FuzzTargets.named(f) != nil, "corpus/\(f) is no registered fuzz target") }
  }

  @Test("the committed generated seeds and dictionary equal what the registry generates (alloc-check seeds)",
        arguments: FuzzTargets.all.map(\.name))
  func seedsUpToDate(_ name: String) throws {
    let t = FuzzTargets.named(name)!
    let dir = Self.root.appendingPathComponent("corpus/\(t.name)")
    let files = FuzzCorpusFiles.seedFiles(t) + [(FuzzCorpusFiles.dictionaryName(t), Array(FuzzCorpusFiles.dictionaryText(t.dictionary).utf8))]
    for f in files {
      let committed = try? [UInt8](Data(contentsOf: dir.appendingPathComponent(f.name)))
      #expect(committed == f.bytes, "corpus/\(t.name)/\(f.name) is stale or missing: run swift run alloc-check seeds \(t.name)")
    }
  }

  @Test("the pymalloc seeds use every op kind, NULL refs, and both sides of every size-class boundary in malloc, calloc and realloc")
  func pymallocSeedsAreRepresentative() throws {
    let dir = Self.root.appendingPathComponent("corpus/pymalloc")
    let bins = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".bin") }
    let programs = try bins.map { OpDecoder.decodePymalloc([UInt8](try Data(contentsOf: dir.appendingPathComponent($0)))) }
    let ops = programs.flatMap(\.ops)
    #expect(Set(ops.map(\.kind)) == Set(Op.Kind.allCases.filter(\.isPymallocKind)))
    #expect(ops.contains(.free(nil)) && ops.contains { if case .realloc(nil, _) = $0 { true } else { false } })
    var sizes: [Op.Kind: Set<UInt64>] = [:]
    for op in ops {
      switch op {
      case .malloc(let s): sizes[.malloc, default: []].insert(s)
      case .calloc(let c, let s): sizes[.calloc, default: []].formUnion([s, c])
      case .realloc(_, let s): sizes[.realloc, default: []].insert(s)
      default: break
      }
    }
    for k in 1...32 {
      for s in [UInt64(16 * k - 1), UInt64(16 * k), UInt64(16 * k + 1)] {
        for kind in [Op.Kind.malloc, .calloc, .realloc] { #expect(sizes[kind]?.contains(s) == true, "\(kind.name)(\(s)) missing") }
      }
    }
  }

  /// `p0 = calloc(1, 48)` after a freed 48-byte block: the reused block is dirty when calloc skips the memset.
  static let dirtyCalloc = OpEncoder.encodePymalloc(Program([.malloc(size: 48), .free(BlockRef(0)), .calloc(count: 1, size: 48)]))

  @Test("the pymalloc target reports the seeded bug's rule, and passes without the bug")
  func targetCatchesSeededBug() throws {
    let t = PymallocOpsTarget.target
    let buggy = try #require(t.makeAdapter(["callocSkipsZeroing"]))
    let v = try #require(t.run(Self.dirtyCalloc, on: buggy))
    #expect(v.rule == "O5" && v.opIndex == 2)
    #expect(t.trapMessage(v, program: t.decode(Self.dirtyCalloc)).hasPrefix("alloc-check: O5 at op 2 (calloc): "))
    #expect(t.run(Self.dirtyCalloc, on: try #require(t.makeAdapter([]))) == nil)
    #expect(t.makeAdapter(["noSuchBug"]) == nil)
    #expect(FuzzTargets.bugs(fromEnvironment: "a,b c") == ["a", "b", "c"] && FuzzTargets.bugs(fromEnvironment: nil).isEmpty)
  }

  @Test("the domains target reports D1 when the hooks accept a wrong-domain free (idNotChecked), and passes without the bug")
  func domainsTargetCatchesSeededBug() throws {
    let t = try #require(FuzzTargets.named("fuzz-domains-ops"))
    let bytes = t.encode(t.seeds.first { $0.name == "misuse-wrong-domain" }!.program)
    let buggy = try #require(t.makeAdapter(["idNotChecked"]))
    let v = try #require(t.run(bytes, on: buggy))
    #expect(v.rule == "D1" && v.opIndex == 2, "\(v)")
    #expect(t.trapMessage(v, program: t.decode(bytes)).hasPrefix("alloc-check: D1 at op 2 (free_wrong_domain): "))
    let clean = try #require(t.makeAdapter([]))
    #expect(t.run(bytes, on: clean) == nil)
    #expect(t.makeAdapter(["callocSkipsZeroing"]) == nil, "a pymalloc bug is not a domain bug")
  }

  @Test("the domains seeds use every domains op kind, every configuration, and each domain's four calls")
  func domainsSeedsAreRepresentative() throws {
    let t = try #require(FuzzTargets.named("domains"))
    let ops = t.seeds.flatMap(\.program.ops)
    #expect(Set(ops.map(\.kind)) == Set(Op.Kind.allCases.filter(\.isDomainKind)))
    var calls = Set<String>()
    var configurations = Set<String>()
    for case .domain(let d) in ops {
      if case .configure(let c) = d { configurations.insert("\(c)") }
      if let domain = d.domain, !d.isMisuse { calls.insert("\(domain)-\(d.kind.name)") }
    }
    #expect(calls.count >= 8, "clean calls seen: \(calls.sorted())")
    #expect(configurations.count >= 5, "configurations seen: \(configurations.sorted())")
  }

  @Test("the fuzz body traps with the rule id and op index, so libFuzzer saves the input")
  func fuzzBodyTraps() async {
    let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
      let t = PymallocOpsTarget.target
      guard let adapter = t.makeAdapter(["callocSkipsZeroing"]) else { return }
      t.fuzzOne(FuzzTargetTests.dirtyCalloc, on: adapter)
    }
    let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
    #expect(message.contains("alloc-check: O5 at op 2 (calloc): calloc block p1"), "stderr: \(message)")
  }

  @Test("crash triage names the rule and op kind, and a passing input as pass")
  func triage() throws {
    let t = PymallocOpsTarget.target
    let v = CrashTriage.triage(t, Self.dirtyCalloc, on: try #require(t.makeAdapter(["callocSkipsZeroing"])))
    #expect(v.signature == CrashSignature(rule: "O5", opKind: "calloc"))
    #expect(CrashTriage.triage(t, Self.dirtyCalloc, on: try #require(t.makeAdapter([]))).signature.rule == "pass")
  }

  @Test("libFuzzer status, final-stat, artifact and trap lines parse")
  func libFuzzerLines() {
    let s = LibFuzzerOutput.status("#4096\tpulse  cov: 1047 ft: 5768 corp: 182/289Kb lim: 4096 exec/s: 312 rss: 55Mb")
    #expect(s == LibFuzzerStatus(execs: 4096, event: "pulse", cov: 1047, ft: 5768, corpusUnits: 182, execPerSec: 312, rssMB: 55))
    let n = LibFuzzerOutput.status("#5\tINITED cov: 929 ft: 2103 corp: 4/5715b exec/s: 0 rss: 45Mb")
    #expect(n?.execs == 5 && n?.event == "INITED" && n?.corpusUnits == 4)
    #expect(LibFuzzerOutput.status("#1 something else") == nil && LibFuzzerOutput.status("INFO: Seed: 1") == nil)
    #expect(LibFuzzerOutput.finalStat("stat::number_of_executed_units: 1185")! == ("number_of_executed_units", 1185))
    #expect(LibFuzzerOutput.artifactPath("artifact_prefix='crashes/pymalloc/'; Test unit written to crashes/pymalloc/crash-ab12")
            == "crashes/pymalloc/crash-ab12")
    #expect(LibFuzzerOutput.trapReason("FuzzTargets/FuzzTarget.swift:74: Fatal error: alloc-check: O5 at op 2 (calloc): x")
            == "alloc-check: O5 at op 2 (calloc): x")
  }

  @Test("samples round-trip through their CSV line")
  func samples() {
    let s = FuzzSample(seconds: 12.5, target: "pymalloc", execs: 100, execPerSec: 8, cov: 1000, ft: 5000, corpus: 40, crashes: 1)
    #expect(FuzzSample(csvLine: Substring(s.csvLine)) == s)
    #expect(FuzzSample(csvLine: "1,2,3") == nil)
  }

  @Test("PNG: CRC-32 and Adler-32 match their reference values; stored zlib blocks hold the raw rows")
  func png() {
    #expect(PNG.crc32(Array("IEND".utf8)) == 0xAE42_6082)
    #expect(PNG.crc32(Array("123456789".utf8)) == 0xCBF4_3926)
    #expect(PNG.adler32(Array("Wikipedia".utf8)) == 0x11E6_0398)
    var img = RGBImage(width: 300, height: 200)
    img.line(0, 0, 299, 199, (255, 0, 0))
    #expect(img.pixel(0, 0) == (255, 0, 0) && img.pixel(299, 199) == (255, 0, 0) && img.pixel(299, 0) == (255, 255, 255))
    let file = PNG.encode(img)
    #expect(Array(file.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
    #expect(Array(file.suffix(12)) == [0, 0, 0, 0] + Array("IEND".utf8) + [0xAE, 0x42, 0x60, 0x82])
    // Undo the stored blocks by hand: the payload is every row with filter byte 0.
    let zlib = PNG.zlibStored([UInt8](repeating: 7, count: 70_000))
    var i = 2, payload: [UInt8] = []
    while true {
      let final = zlib[i] & 1
      let len = Int(zlib[i + 1]) | Int(zlib[i + 2]) << 8
      #expect(Int(zlib[i + 3]) | Int(zlib[i + 4]) << 8 == ~len & 0xFFFF)
      payload += zlib[(i + 5)..<(i + 5 + len)]
      i += 5 + len
      if final == 1 { break }
    }
    #expect(payload == [UInt8](repeating: 7, count: 70_000) && zlib.count == i + 4)
    #expect(LinePlot.tickStep(1047) == 200 && LinePlot.tickStep(600) == 100 && LinePlot.tickStep(7) == 2)
  }
}
