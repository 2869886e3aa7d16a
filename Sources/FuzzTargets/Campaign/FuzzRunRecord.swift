// FuzzRunRecord.swift — the machine-readable record of one `alloc-check fuzz` run, written to
// `.fuzz/runs/<id>/run.json` while it runs and when it ends, and read by `alloc-check report`: per target its
// jobs, time, executions, coverage, corpus growth and crashes (de-duplicated by ``CrashSignature``), plus
// `samples.csv` (one row per target every few seconds) for the coverage-over-time plot.

/// One run.
public struct FuzzRunRecord: Codable, Sendable {
  public var id: String
  /// ISO 8601, UTC.
  public var started: String
  public var requestedSeconds: Int
  public var elapsedSeconds: Double
  public var jobs: Int
  public var seed: UInt64
  public var bugs: [String]
  public var command: String
  /// "running", "done", "interrupted" (Ctrl-C) or "stopped at first crash".
  public var state: String
  public var targets: [Target]

  public init(id: String, started: String, requestedSeconds: Int, jobs: Int, seed: UInt64, bugs: [String],
              command: String, targets: [Target]) {
    self.id = id
    self.started = started
    self.requestedSeconds = requestedSeconds
    self.elapsedSeconds = 0
    self.jobs = jobs
    self.seed = seed
    self.bugs = bugs
    self.command = command
    self.state = "running"
    self.targets = targets
  }

  public struct Target: Codable, Sendable {
    public var name: String
    public var product: String
    public var jobs: Int
    /// The working corpus folder.
    public var corpus: String = ""
    public var execs: Int = 0
    public var seconds: Double = 0
    public var execPerSec: Double = 0
    public var cov: Int = 0
    public var ft: Int = 0
    public var corpusStart: Int = 0
    public var corpusEnd: Int = 0
    /// Processes started (more than `jobs` when a job crashed and was restarted).
    public var processes: Int = 0
    public var crashes: [Crash] = []
    public var logs: [String] = []

    public init(name: String, product: String, jobs: Int) {
      self.name = name
      self.product = product
      self.jobs = jobs
    }
  }

  public struct Crash: Codable, Sendable {
    /// Where the input was saved (relative to the package root).
    public var file: String
    public var signature: CrashSignature
    /// `alloc-check: O5 at op 3 (calloc): …`, or libFuzzer's kind (timeout, out-of-memory).
    public var line: String
    /// Seconds from the start of the run.
    public var foundAfter: Double
    /// Inputs saved with the same signature (only the first is kept as `file`).
    public var duplicates: Int = 0
    public var repro: String

    public init(file: String, signature: CrashSignature, line: String, foundAfter: Double, repro: String) {
      self.file = file
      self.signature = signature
      self.line = line
      self.foundAfter = foundAfter
      self.repro = repro
    }
  }
}

/// One row of `samples.csv`.
public struct FuzzSample: Equatable, Sendable {
  public var seconds: Double
  public var target: String
  public var execs: Int
  public var execPerSec: Int
  public var cov: Int
  public var ft: Int
  public var corpus: Int
  public var crashes: Int

  public init(seconds: Double, target: String, execs: Int, execPerSec: Int, cov: Int, ft: Int, corpus: Int, crashes: Int) {
    self.seconds = seconds
    self.target = target
    self.execs = execs
    self.execPerSec = execPerSec
    self.cov = cov
    self.ft = ft
    self.corpus = corpus
    self.crashes = crashes
  }

  public static let csvHeader = "seconds,target,execs,exec_per_s,cov,ft,corpus,crashes"

  public var csvLine: String {
    "\((seconds * 10).rounded() / 10),\(target),\(execs),\(execPerSec),\(cov),\(ft),\(corpus),\(crashes)"
  }

  public init?(csvLine: Substring) {
    let f = csvLine.split(separator: ",", omittingEmptySubsequences: false)
    guard f.count == 8, let s = Double(f[0]), let e = Int(f[2]), let r = Int(f[3]), let c = Int(f[4]), let t = Int(f[5]),
      let k = Int(f[6]), let x = Int(f[7]) else { return nil }
    self.init(seconds: s, target: String(f[1]), execs: e, execPerSec: r, cov: c, ft: t, corpus: k, crashes: x)
  }
}
