// ExploreScenarios.swift — the parallel programs `alloc-check explore` runs when given no file: short
// programs aimed at mimalloc's cross-thread free protocol (the remote push CAS, DELAYED_FREEING and the
// heap's delayed list, the owner's collect, abandonment and reclaim). Small on purpose: the exhaustive
// search covers them with a preemption bound of 2, and PCT's guarantee 1/(n·k^(d−1)) stays useful.

public enum ExploreScenarios {
  /// Name and text of each scenario (the text form, heaps family).
  public static let texts: [(name: String, text: String)] = [
    ("remote-frees", """
      # Two threads free blocks of t1's page while t1 allocates and collects: remote pushes race with each
      # other, with the first free's DELAYED_FREEING hand-off to t1's heap, and with t1's detach.
      t1 = spawn()
      t2 = spawn()
      thread(t1)
      p0 = malloc(32)
      p1 = malloc(32)
      p2 = malloc(32)
      p3 = malloc(32)
      thread(t2)
      free(p0)
      free(p1)
      thread(t0)
      free(p2)
      thread(t1)
      p4 = malloc(32)
      collect()
      thread(t0)
      free(p3)
      """),
    ("delayed-drain", """
      # t1's page gets remote frees while t1 drains its heap's delayed list (malloc and collect): the
      # owner's state reset (2 → 0 before it collects) races with new remote frees.
      t1 = spawn()
      thread(t1)
      p0 = malloc(64)
      p1 = malloc(64)
      p2 = malloc(64)
      thread(t0)
      free(p0)
      thread(t1)
      p3 = malloc(64)
      thread(t0)
      free(p1)
      free(p2)
      thread(t1)
      collect()
      free(p3)
      """),
    ("abandon-reclaim", """
      # t1 exits with live blocks; t2 frees into the abandoned segment while t0 reclaims it (forced collect).
      t1 = spawn()
      t2 = spawn()
      thread(t1)
      p0 = malloc(48)
      p1 = malloc(48)
      p2 = malloc(48)
      exit()
      thread(t2)
      free(p0)
      free(p1)
      thread(t0)
      collect(force)
      free(p2)
      """),
  ]

  /// The scenarios as programs (the texts are checked by ExploreTests).
  public static var all: [ExploreProgram] {
    texts.map { ExploreProgram(name: $0.name, program: try! ProgramText.parse("# alloc-check program v1\n# family: heaps\n" + $0.text)) }
  }

  /// The scenario's file text, as `alloc-check run` reads it.
  public static func fileText(_ name: String) -> String? {
    texts.first { $0.name == name }.map { "# alloc-check program v1\n# family: heaps\n" + $0.text + "\n" }
  }
}
