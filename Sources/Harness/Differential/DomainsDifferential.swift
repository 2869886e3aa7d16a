// DomainsDifferential.swift — the reference debug hooks beside CPython 3.11's real ones (`diff --family
// domains`): for every misuse both sides compared with their prediction, the whole diagnostic (the block
// dump and the fatal line) must be the same text (X7) once the facts that cannot match are blanked:
// addresses (`p=0x…`, `tail=0x…`), the `Python runtime state:` line and what follows (the real process is
// not initialised, or is after the GIL misuse's Py_Initialize) — the reference runs without serial numbers
// here, as a release libpython has none. Misuses one side could not compare (a wild read, a dump that
// crashed, a dump the model cut short) are left out, and so are the data bytes of a dump whose size field
// the misuse overwrote (they lie past the real block). The real side's misuses run in forked children of their own (ForkedCall), so the
// pair itself stays in process.

import AllocUnderTest
import Oracle

public final class DomainsDifferential: DifferentialPair {
  public let reference: DomainsAdapter
  public let peer: CPythonDebugAdapter
  public var family: ProgramFamily { .domains }
  public var peerName: String { peer.name }
  public var needsIsolation: Bool { false }

  /// `referenceOptions`: as a release libpython is built (no serial numbers); tests change it to show X7
  /// catching a reference configured unlike the real build.
  public init(bugs: Set<DomainBug> = [],
              referenceOptions: PyMemOptions = PyMemOptions(serialNumbers: false, mallocQuarantine: 16)) throws(PeerUnavailable) {
    peer = try CPythonDebugAdapter()
    reference = DomainsAdapter(bugs: bugs, options: referenceOptions)
  }

  public func run(_ program: Program, runSeed: UInt64) -> DifferentialVerdict {
    let oracle = PeerAdapters.oracle(for: .cpythonDebug, family: .domains, base: .domains)
    let r = Executor.run(program, on: reference, config: ExecutorConfig(oracle: oracle, runSeed: runSeed))
    let p = Executor.run(program, on: peer, config: ExecutorConfig(oracle: oracle, runSeed: runSeed))
    // Left out as well: a reference dump the model cut short ("[model: dump stopped: …]"), where CPython
    // reads memory nobody vouches for (its bytes there are whatever the C heap left).
    let both = Set(r.misuses.filter { $0.status == .compared && !($0.producedFatal?.stderrText.contains("[model: ") ?? false) }.map(\.opIndex))
      .intersection(p.misuses.filter { $0.status == .compared }.map(\.opIndex))
    // Where the misuse changed the size field (the prediction's dumpMayCrash), the dump's data line shows
    // bytes past the real block, whatever the C heap or pool left there: its bytes are blanked.
    let sizeChanged = Set(r.misuses.filter(\.dumpMayCrash).map(\.opIndex))
    func facts(_ v: Verdict) -> [Observation] {
      v.misuses.filter { both.contains($0.opIndex) }.map {
        Observation(opIndex: $0.opIndex, rule: .sameDiagnostic,
                    value: Self.normalized($0.producedFatal?.stderrText ?? $0.produced, blankData: sizeChanged.contains($0.opIndex)))
      }
    }
    let (divergence, compared) = Differential.compare(facts(r), facts(p), peerName: peer.name)
    return DifferentialVerdict(reference: r, peer: p, peerName: peer.name, divergence: divergence, compared: compared)
  }

  /// The diagnostic with addresses blanked and the runtime-state tail cut (see the file header).
  static func normalized(_ text: String, blankData: Bool = false) -> String {
    var out: [String] = []
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
      if line.hasPrefix("Python runtime state:") { break }
      if blankData, line.hasPrefix("    Data at p:") {
        out.append("    Data at p: (bytes past a block whose size field the misuse changed: not compared)")
        continue
      }
      var s = ""
      var chars = Array(line)[...]
      while let c = chars.first {
        chars = chars.dropFirst()
        s.append(c)
        if c == "0", chars.first == "x" {
          s += "x…"
          chars = chars.dropFirst().drop { $0.isHexDigit }
        }
      }
      out.append(s)
    }
    return out.joined(separator: "\n")
  }
}
