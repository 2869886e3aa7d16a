// RefABITests.swift — the C ABI of liballoccheck-ref.so, called as a C caller would (the same `@_cdecl`
// functions, in process): bad options are refused with a reason; the reference mimalloc's first-class heaps
// (new, malloc, delete, destroy) run clean under the call oracle and the report says so; a seeded bug
// reaches the violation handler with its rule; recording writes a program that parses. One process-wide
// instance, so the suite is serialized.

import Foundation
import Harness
import RefABI
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What the violation handler saw (a C function pointer cannot capture).
nonisolated(unsafe) var abiViolations: [String] = []

@Suite("C ABI of the reference allocators", .serialized)
struct RefABITests {
  func report() -> [String: String] {
    guard let p = acr_report() else { return [:] }
    defer { free(p) }
    var out: [String: String] = [:]
    for line in String(cString: p).split(separator: "\n") {
      let kv = line.split(separator: "=", maxSplits: 1).map(String.init)
      if kv.count == 2 { out[kv[0]] = kv[1] }
    }
    return out
  }

  func lastError() -> String {
    guard let p = acr_last_error() else { return "" }
    defer { free(p) }
    return String(cString: p)
  }

  @Test("bad options are refused, each with its reason")
  func badOptions() {
    for (options, reason) in [("allocator=tcmalloc", "unknown allocator"), ("checks=maybe", "on or off"), ("colour=red", "unknown option"),
                              ("bug=noSuchBug", "unknown pymalloc bug"), ("bug-from=-3", "bug-from takes")] {
      #expect(acr_open(options) == -1, "\(options) was accepted")
      #expect(lastError().contains(reason), "\(options): \(lastError())")
    }
  }

  @Test("mimalloc heaps through the ABI: new, malloc, delete, destroy, all checked, verdict ok")
  func mimallocHeaps() throws {
    abiViolations = []
    #expect(acr_open("allocator=mimalloc") == 0, "\(lastError())")
    acr_set_violation_handler { rule, _, detail in abiViolations.append("\(String(cString: rule!)): \(String(cString: detail!))") }
    var plain: [UnsafeMutableRawPointer] = []
    for k in 0..<2000 { if let p = acr_malloc(nil, 8 + (k * 37) % 3000) { plain.append(p) } }
    let h1 = acr_heap_new(), h2 = acr_heap_new()
    #expect(h1 > 0 && h2 > 0 && h1 != h2)
    for k in 0..<3000 {
      #expect(acr_heap_malloc(k % 2 == 0 ? h1 : h2, 16 + (k * 13) % 700) != nil)
    }
    acr_heap_delete(h1)  // its blocks move to the default heap; the model keeps them
    acr_heap_destroy(h2)  // its blocks are gone; the model forgets them
    for (k, p) in plain.enumerated() where k % 2 == 0 { acr_free(nil, p) }
    let p = try #require(acr_realloc(nil, plain[1], 5000))
    #expect(acr_usable_size(p) >= 5000)
    #expect(acr_finish() == 0)
    let r = report()
    #expect(abiViolations.isEmpty, "\(abiViolations)")
    #expect(r["allocator"] == "mimalloc" && r["verdict"] == "ok", "\(r)")
    #expect(Int(r["calls"] ?? "") ?? 0 >= 5000 + plain.count / 2, "\(r)")
  }

  @Test("a seeded bug reaches the violation handler with its rule (mimalloc binOffByOne: O3)")
  func seededBug() {
    abiViolations = []
    #expect(acr_open("allocator=mimalloc,bug=binOffByOne") == 0, "\(lastError())")
    acr_set_violation_handler { rule, _, detail in abiViolations.append("\(String(cString: rule!)): \(String(cString: detail!))") }
    for n in [65, 97, 129, 193] { _ = acr_malloc(nil, n) }
    #expect(abiViolations.count == 1 && abiViolations.first?.hasPrefix("O3:") == true, "\(abiViolations)")
    #expect(report()["verdict"] == "violation")
  }

  @Test("pymalloc with bug-from: clean until the call index, then caught")
  func bugFrom() {
    abiViolations = []
    #expect(acr_open("allocator=pymalloc,bug=misalignTinyBlocks,bug-from=10") == 0, "\(lastError())")
    acr_set_violation_handler { rule, index, _ in abiViolations.append("\(String(cString: rule!))@\(index)") }
    for _ in 0..<10 { _ = acr_malloc(nil, 8) }
    #expect(abiViolations.isEmpty)
    _ = acr_malloc(nil, 8)
    #expect(abiViolations == ["O1@10"])
  }

  @Test("recording through the ABI writes a program that parses, with its binary twin")
  func recording() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("refabi-\(getpid())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let text = dir.appendingPathComponent("r.txt").path, binary = dir.appendingPathComponent("r.bin").path
    #expect(acr_open("allocator=pymalloc") == 0)
    #expect(acr_record_open(text, binary, "a test") == 0)
    let a = acr_malloc(nil, 24), b = acr_calloc(nil, 3, 8)
    acr_record_malloc(24, a)
    acr_record_calloc(3, 8, b)
    let c = acr_realloc(nil, a, 100)
    acr_record_realloc(a, 100, c)
    acr_free(nil, b)
    acr_record_free(b)
    let summary = try #require(acr_record_close(binary))
    defer { free(summary) }
    #expect(String(cString: summary).contains("record_binary=complete"))
    let program = try ProgramText.parse(try String(contentsOfFile: text, encoding: .utf8))
    #expect(program.ops == [.malloc(size: 24), .calloc(count: 3, size: 8), .realloc(BlockRef(0), size: 100), .free(BlockRef(1))])
    #expect(OpDecoder.decodePymalloc([UInt8](try Data(contentsOf: URL(fileURLWithPath: binary)))) == program)
    #expect(acr_record_open("/nonexistent-dir/x.txt", nil, nil) == -1 && lastError().contains("cannot write"))
  }
}
