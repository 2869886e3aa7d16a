// LinearizePrograms.swift — small parallel programs for the linearizability check (issue 14), seeded: t0
// spawns the other threads, then the threads' ops come in short random bursts, each thread's in its own
// order. Ops: malloc and calloc mostly of sizes in mimalloc's 1 KiB bin, whose pages hand out four blocks
// per free-list extension, so freed blocks come back within a few ops (and a block the cross-thread free
// protocol lost track of comes back twice); some 48-byte ones;
// free and realloc of a live block — most often one another thread made (a cross-thread free, which the
// parallel reading orders after its maker) — and collect (the owner takes in its remote frees, where the
// cross-thread free protocol races). Heaps family, text form as every other program.

import Oracle

public enum LinearizePrograms {
  /// A program of `threads` threads (2…4) with `opsPerThread` ops each (after the spawns).
  public static func generate(seed: UInt64, threads: Int, opsPerThread: Int) -> Program {
    precondition((1...8).contains(threads), "LinearizePrograms: 1…8 threads")
    var rng = SeededRandom(seed: seed)
    func below(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
    var ops: [Op] = Array(repeating: .spawn, count: threads - 1)
    var remaining = Array(repeating: opsPerThread, count: threads)
    var live: [(id: Int, maker: Int)] = []
    var nextID = 0
    var current = 0
    while let t = remaining.indices.filter({ remaining[$0] > 0 }).randomElement(using: &rng) {
      if t != current {
        ops.append(.switchThread(ThreadRef(t)))
        current = t
      }
      for _ in 0..<min(remaining[t], 1 + below(2)) {
        remaining[t] -= 1
        let roll = below(100)
        if !live.isEmpty && roll < 45 {
          // Another thread's block when there is one, most of the time.
          let foreign = live.indices.filter { live[$0].maker != t }
          let k = !foreign.isEmpty && below(10) < 7 ? foreign[below(foreign.count)] : below(live.count)
          let ref = BlockRef(live.remove(at: k).id)
          if below(3) == 0 {
            ops.append(.realloc(ref, size: [16, 512, 1024, 2048][below(4)]))
            live.append((nextID, t))
            nextID += 1
          } else {
            ops.append(.free(ref))
          }
        } else if roll < 55 {
          ops.append(.collect(force: false))
        } else {
          ops.append(roll < 65 ? .calloc(count: UInt64(1 + below(3)), size: 320) : .malloc(size: [960, 1000, 1024, 48][below(4)]))
          live.append((nextID, t))
          nextID += 1
        }
      }
    }
    return Program(ops)
  }

  /// Fixed programs: name and text (heaps family).
  public static let scenarios: [(name: String, text: String)] = [
    ("remote-frees-reuse", """
      # t2 and t0 free t1's 1 KiB blocks while t1 allocates (its page's free list is empty every four
      # blocks, so it collects the remote frees) and collects; t1 then allocates the freed blocks again. A
      # remote free that loses track of a block (or keeps one the owner already took) makes t1 get a block
      # it already holds.
      t1 = spawn()
      t2 = spawn()
      thread(t1)
      p0 = malloc(1024)
      p1 = malloc(1024)
      p2 = malloc(1024)
      p3 = malloc(1024)
      thread(t2)
      free(p0)
      free(p1)
      thread(t0)
      free(p2)
      thread(t1)
      p4 = malloc(1024)
      collect()
      p5 = malloc(1024)
      p6 = malloc(1024)
      p7 = malloc(1024)
      p8 = malloc(1024)
      thread(t0)
      free(p3)
      """),
  ]

  /// A scenario's file text, as `alloc-check linearize FILE` and `run` read it.
  public static func scenarioText(_ name: String) -> String? {
    scenarios.first { $0.name == name }.map { "# alloc-check program v1\n# family: heaps\n" + $0.text + "\n" }
  }

  /// A scenario as a program (ExploreTests-style: the texts are checked by LinearizabilityTests).
  public static func scenario(_ name: String) -> Program? {
    scenarioText(name).flatMap { try? ProgramText.parse($0) }
  }
}
