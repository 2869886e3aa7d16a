// MutationTests.swift — the mutator and the mutation loop (Harness/Mutation, `alloc-check mutate`): nothing
// inside comments or strings is mutated, generic brackets are not relational operators, each operator
// writes the expected text, ids are stable, seeded-bug code is left alone unless asked; and the loop, with
// stubbed build and checks over a tiny fake allocator file, reports a mutant that breaks it killed, an
// equivalent one survived (then marked equivalent from the list), restores the file and resumes.

import Foundation
import Harness
import Testing

@Suite("Mutation: the mutator's operators and the mutation loop")
struct MutationTests {
  static func texts(_ source: String, _ op: MutationOperator, bugCode: Bool = false) -> [String] {
    Mutator.mutants(of: source, file: "T.swift", includeBugCode: bugCode).filter { $0.op == op }
      .map { $0.mutated.trimmingCharacters(in: .whitespaces) }
  }

  @Test("nothing inside comments or string literals is mutated")
  func commentsAndStrings() {
    let source = #"""
      // if a < b { x = 1 }
      /* c == d && e /* nested < */ + 1 */
      let s = "a < b && c + 1 \(y <= 2)"
      let r = #"x == "y" + 3"#
      let m = """
        p != q || 7
        """
      """#
    let all = Mutator.mutants(of: source, file: "T.swift")
    #expect(all.isEmpty, "\(all.map(\.diff))")
    let tokens = SwiftTokenizer.tokenize(source)
    #expect(tokens.filter { $0.kind == .string }.count == 3)
    #expect(tokens.last?.text == "\"\"\"\n  p != q || 7\n  \"\"\"")
  }

  @Test("generic brackets and unspaced operators are not relational operators")
  func generics() {
    let source = """
      func f<T: Comparable>(_ a: Array<T>, _ d: Dictionary<String, Array<Int>>) -> Bool {
        let x: Set<Int> = []
        return a.count < d.count && x.isEmpty
      }
      """
    #expect(Self.texts(source, .relational) == ["return a.count <= d.count && x.isEmpty"])
    #expect(Self.texts("let ok = a<b", .relational).isEmpty, "unspaced: left alone")
  }

  @Test("each operator writes the expected text")
  func operators() {
    let source = """
      func g(_ a: Int, _ b: Int) -> Int {
        var n = a
        if a >= b && b != 0 {
          n += 0x10
          update(n - 1)
        }
        guard n == b || a > 2 else { return 0 }
        return n
      }
      """
    #expect(Self.texts(source, .relational) == ["if a > b && b != 0 {", "if a >= b && b == 0 {", "guard n != b || a > 2 else { return 0 }",
                                                "guard n == b || a >= 2 else { return 0 }"])
    #expect(Self.texts(source, .constantPlus) == ["if a >= b && b != 1 {", "n += 0x11", "update(n - 2)", "guard n == b || a > 3 else { return 0 }",
                                                  "guard n == b || a > 2 else { return 1 }"])
    #expect(Self.texts(source, .constantMinus).contains("n += 0xf"))
    #expect(!Self.texts(source, .constantMinus).contains { $0.contains("-1") }, "0 has no n − 1")
    #expect(Self.texts(source, .logical) == ["if a >= b || b != 0 {", "guard n == b && a > 2 else { return 0 }"])
    #expect(Self.texts(source, .arithmetic) == ["n -= 0x10", "update(n + 1)"])
    #expect(Self.texts(source, .negateCondition) == ["if !(a >= b && b != 0) {", "guard !(n == b || a > 2) else { return 0 }"])
    #expect(Self.texts(source, .dropStatement) == ["", ""], "n += 0x10 and update(n - 1); never `var n = a` or `return n`")
    let m = Mutator.mutants(of: source, file: "T.swift").first { $0.op == .dropStatement }!
    #expect(m.apply(to: source).contains("if a >= b && b != 0 {\n    \n    update(n - 1)"))
  }

  @Test("statements that would not compile are not dropped")
  func dropsOnlyWhatCompiles() {
    let source = """
      struct S {
        var x: Int
        init(x: Int) {
          self.x = x
        }
        var doubled: Int {
          compute(x)
        }
        func h(_ k: Int) {
          switch k {
          case 1:
            record(k)
          default:
            record(0)
            record(k)
          }
          let total = sum(1,
            2)
          consume(total)
          items
            .forEach { log($0) }
          precondition(k > 0)
        }
      }
      """
    let drops = Mutator.mutants(of: source, file: "T.swift").filter { $0.op == .dropStatement }
    #expect(drops.map(\.line) == [12, 14, 15, 19], "\(drops.map(\.diff))")
    #expect(drops.first?.mutated.trimmingCharacters(in: .whitespaces) == "break", "a case's only statement becomes break")
    #expect(!Mutator.mutants(of: source, file: "T.swift").contains { $0.line == 22 }, "precondition's argument is not mutated")
  }

  @Test("seeded-bug code is left alone unless asked")
  func seededBugCode() {
    let source = """
      func f(_ p: Int) -> Int {
        var q = p
        if has(.misalign) && p & 15 == 8 { q -= 8 }
        let limit = has(.shortLimit) ? p - 1 : p + 1
        if !has(.keep) { q += 1 }
        if mimalloc.has(.twice) && q == 96 { q = 0 }
        if has(.offByOne), q > 8, q < 70 { q -= 1 }
        return q + limit
      }
      """
    let plain = Mutator.mutants(of: source, file: "T.swift")
    #expect(!plain.contains { $0.line == 3 && $0.op != .logical }, "\(plain.filter { $0.line == 3 }.map(\.diff))")
    #expect(plain.contains { $0.line == 3 && $0.op == .logical }, "the && joining has(…) still flips")
    #expect(plain.filter { $0.line == 4 && $0.op == .arithmetic }.map(\.mutated) == ["  let limit = has(.shortLimit) ? p - 1 : p - 1"])
    #expect(plain.contains { $0.line == 5 && $0.op == .arithmetic }, "a negated bug test's body runs normally")
    #expect(!plain.contains { $0.line == 5 && $0.op == .negateCondition }, "negating a bug test is the seeded bug itself")
    #expect(!plain.contains { $0.line == 6 && $0.op != .logical }, "a bug test through a member (mimalloc.has) counts too")
    #expect(!plain.contains { $0.line == 7 && $0.op != .logical }, "a condition list's commas join like &&: \(plain.filter { $0.line == 7 }.map(\.diff))")
    let all = Mutator.mutants(of: source, file: "T.swift", includeBugCode: true)
    #expect(all.contains { $0.line == 3 && $0.op == .relational && $0.bugCode })
  }

  @Test("ids are stable: file, line, operator, occurrence and the line's hash")
  func stableIds() {
    let source = "func f(a: Int, b: Int) -> Bool {\n  return a < b && b < 9\n}\n"
    let ids = Mutator.mutants(of: source, file: "Pymalloc/F.swift").map(\.id)
    #expect(ids == Mutator.mutants(of: source, file: "Pymalloc/F.swift").map(\.id))
    let h = Mutator.lineHash("return a < b && b < 9")
    #expect(h.count == 8 && h == Mutator.lineHash("  return a < b && b < 9  "))
    #expect(ids.contains("Pymalloc/F.swift:2:ror:\(h)") && ids.contains("Pymalloc/F.swift:2:ror#1:\(h)"))
    let shifted = Mutator.mutants(of: "// moved\n" + source, file: "Pymalloc/F.swift")
    #expect(shifted.map(\.lineFreeKey) == Mutator.mutants(of: source, file: "Pymalloc/F.swift").map(\.lineFreeKey))
    #expect(Mutator.sample(Mutator.mutants(of: source, file: "F.swift"), cap: 2, seed: 7).map(\.id)
              == Mutator.sample(Mutator.mutants(of: source, file: "F.swift"), cap: 2, seed: 7).map(\.id))
  }

  /// A fake allocator file and a stubbed tier 1 that really checks it: a bump allocator must fit a request
  /// that fills it exactly and refuse one byte more. `slack` is never read: its mutants are equivalent.
  static let fake = """
    func fits(_ used: Int, _ size: Int, _ capacity: Int) -> Bool {
      return used + size <= capacity
    }
    let slack = 4
    """

  /// A temporary sources root holding Fake/Bump.swift.
  static func fakeRoot() throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mutation-test-\(UInt32.random(in: 0...UInt32.max))").path
    try FileManager.default.createDirectory(atPath: dir + "/Fake", withIntermediateDirectories: true)
    try fake.write(toFile: dir + "/Fake/Bump.swift", atomically: true, encoding: .utf8)
    return dir
  }

  static func bumpCheck(_ root: String) -> StepOutcome {
    let text = (try? String(contentsOfFile: root + "/Fake/Bump.swift", encoding: .utf8)) ?? ""
    let line = text.split(separator: "\n").first { $0.contains("return used") } ?? ""
    let parts = line.split(separator: " ")  // return used OP size REL capacity
    let plus = parts.count > 5 && parts[2] == "+"
    let rel = parts.count > 5 ? String(parts[4]) : "?"
    func fits(_ u: Int, _ s: Int, _ c: Int) -> Bool {
      let need = plus ? u + s : u - s
      switch rel { case "<=": return need <= c; case "<": return need < c; case ">=": return need >= c; default: return need > c }
    }
    if !fits(8, 8, 16) { return .failed("rule exact-fit") }
    if fits(8, 9, 16) { return .failed("rule overflow") }
    return .passed
  }

  @Test("the loop: a breaking mutant is killed, an equivalent one survives, files are restored, a rerun resumes")
  func loop() throws {
    let dir = try Self.fakeRoot()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let mutants = Mutator.mutants(of: Self.fake, file: "Fake/Bump.swift")
    let ror = try #require(mutants.first { $0.op == .relational })
    let plus = try #require(mutants.first { $0.op == .arithmetic })
    let slack = try #require(mutants.first { $0.op == .constantPlus && $0.line == 4 })
    var tier2Runs = 0
    let steps = MutationSteps(build: { _ in .passed }, tier1: { _ in Self.bumpCheck(dir) }, tier2: { _ in tier2Runs += 1; return .passed })
    let run = MutationRun(sourcesRoot: dir, resultsPath: dir + "/results.jsonl", fingerprint: "A", equivalents: EquivalentList())
    let killed = try run.run(ror, steps: steps)
    #expect(killed.status == .killed && killed.tier == 1 && killed.detail == "rule exact-fit")
    #expect(try run.run(plus, steps: steps).status == .killed)
    let survived = try run.run(slack, steps: steps)
    #expect(survived.status == .survived && tier2Runs == 1, "only tier-1 survivors reach tier 2")
    #expect(try String(contentsOfFile: dir + "/Fake/Bump.swift", encoding: .utf8) == Self.fake, "the file is restored")

    // Resume: everything recorded; a new fingerprint (a new check) drops only the survivor.
    #expect(Set(run.recorded().keys) == Set([ror.id, plus.id, slack.id]))
    var changed = MutationRun(sourcesRoot: dir, resultsPath: dir + "/results.jsonl", fingerprint: "B", equivalents: EquivalentList())
    #expect(Set(changed.recorded().keys) == Set([ror.id, plus.id]))
    // Marked equivalent by the list (by id without its line number), it is not built again.
    changed.equivalents = EquivalentList(text: "# comment\n\(slack.lineFreeKey)\tslack is never read\n")
    let eq = try changed.run(slack, steps: MutationSteps(build: { _ in Issue.record("built"); return .passed }, tier1: { _ in .passed },
                                                         tier2: { _ in .passed }))
    #expect(eq.status == .equivalent && eq.detail == "slack is never read")

    let results = Array(changed.recorded().values)
    let md = MutationReport.markdown(results, header: "")
    #expect(md.contains("| **all** | 3 | 2 | 0 | 0 | 0 | 1 | 0 | 100 % |"), "\(md)")
    #expect(md.contains("tier 1: exact-fit: 1"))
  }

  @Test("a build failure and a time-out are reported as such, a build past its limit is not recorded, and a stale mutant is refused")
  func outcomes() throws {
    let dir = try Self.fakeRoot()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let m = try #require(Mutator.mutants(of: Self.fake, file: "Fake/Bump.swift").first)
    let run = MutationRun(sourcesRoot: dir, resultsPath: dir + "/r.jsonl", fingerprint: "A", equivalents: EquivalentList())
    let noBuild = try run.run(m, steps: MutationSteps(build: { _ in .failed("error: x") }, tier1: { _ in .passed }, tier2: { _ in .passed }))
    #expect(noBuild.status == .didNotBuild && noBuild.detail == "error: x")
    let slow = try run.run(m, steps: MutationSteps(build: { _ in .passed }, tier1: { _ in .passed }, tier2: { _ in .timedOut }))
    #expect(slow.status == .timedOut && slow.tier == 2)
    // A step that cannot judge (a build past its limit) records nothing: a rerun tries the mutant again.
    let before = run.recorded()
    #expect(throws: MutationError.self) {
      try run.run(m, steps: MutationSteps(build: { _ in .timedOut }, tier1: { _ in .passed }, tier2: { _ in .passed }))
    }
    #expect(throws: MutationError.self) {
      try run.run(m, steps: MutationSteps(build: { _ in .passed }, tier1: { _ in .passed }, tier2: { _ in .inconclusive("slow test build") }))
    }
    #expect(run.recorded() == before)
    try "// edited\n".write(toFile: dir + "/Fake/Bump.swift", atomically: true, encoding: .utf8)
    #expect(throws: MutationError.self) { try run.run(m, steps: MutationSteps(build: { _ in .passed }, tier1: { _ in .passed }, tier2: { _ in .passed })) }
  }

  @Test("a step past its time limit is stopped with its whole process tree")
  func subprocessStopsTree() throws {
    // `swift test` runs the tests in a child; when only the parent was killed, that child went on (a hung
    // test: for ever), held the log open, and the mutation run waited for it.
    let dir = FileManager.default.temporaryDirectory.path + "/subprocess-\(getpid())"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let t0 = Date()
    let r = Subprocess.run(["sh", "-c", "sleep 300 & echo $! > \(dir)/grandchild; wait"], log: dir + "/log", timeout: 1, env: [:])
    #expect(r.timedOut && r.signaled && Date().timeIntervalSince(t0) < 30, "\(r)")
    let text = try String(contentsOfFile: dir + "/grandchild", encoding: .utf8)
    let grandchild = try #require(Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)))
    usleep(200_000)
    // Gone, or a zombie waiting for init to reap it.
    let stat = try? String(contentsOfFile: "/proc/\(grandchild)/stat", encoding: .utf8)
    let state = stat.flatMap { line in line.lastIndex(of: ")").map { close in line[line.index(close, offsetBy: 2)] } }
    #expect(stat == nil || state == "Z", "the grandchild is still running: \(stat ?? "")")
    let quick = Subprocess.run(["sh", "-c", "exit 3"], log: dir + "/log2", timeout: 10, env: [:])
    #expect(!quick.timedOut && quick.status == 3)
  }
}
