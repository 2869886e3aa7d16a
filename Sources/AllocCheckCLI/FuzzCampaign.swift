// FuzzCampaign.swift — the running part of `alloc-check fuzz`: one libFuzzer process per job, each writing
// its output to a log file in the run folder, which the loop reads every second (no threads, no pipes).
// Status lines give progress; a process that ends early is triaged (its crash input run through the normal
// executor) and restarted for the time left; Ctrl-C (``Interrupt``) is forwarded as SIGINT to every
// process, which libFuzzer answers by printing its final stats and exiting, so nothing is lost. The run
// record (``FuzzRunRecord``) and samples.csv are rewritten at every progress line and at the end.

import Foundation
import FuzzTargets
import Harness

struct Campaign {
  let targets: [FuzzTarget]
  var record: FuzzRunRecord
  let runDir: String
  let bugs: [String]
  let seed: UInt64
  let maxLen: Int
  let timeout: Int
  let untilCrash: Bool
  /// Requested seconds.
  let total: Int
  /// Pass the staged committed seeds to libFuzzer.
  let seeds: Bool

  struct Job {
    var target: Int
    var index: Int
    var process: Process?
    var log = ""
    var offset: UInt64 = 0
    var partial = ""
    /// Executions of this job's earlier (crashed) processes.
    var execsBefore = 0
    var last: LibFuzzerStatus?
    /// Highest cov and ft any process of this job reported.
    var covSeen = 0
    var ftSeen = 0
    var finalExecs: Int?
    var generation = 0
    var artifacts: [String] = []
    var trap: String?
  }

  var jobs: [Job] = []
  let clock = ContinuousClock()
  var began: ContinuousClock.Instant
  var samples = FuzzSample.csvHeader + "\n"
  var signatures: [String: Set<CrashSignature>] = [:]
  var stopping = false

  init(targets: [FuzzTarget], record: FuzzRunRecord, runDir: String, bugs: [String], seed: UInt64, maxLen: Int,
       timeout: Int, untilCrash: Bool, total: Int, seeds: Bool) {
    self.targets = targets
    self.record = record
    self.runDir = runDir
    self.bugs = bugs
    self.seed = seed
    self.maxLen = maxLen
    self.timeout = timeout
    self.untilCrash = untilCrash
    self.total = total
    self.seeds = seeds
    began = clock.now
  }

  var elapsed: Double { (clock.now - began).seconds }

  mutating func start() throws {
    began = clock.now
    var k = 0
    for (ti, t) in record.targets.enumerated() {
      for j in 0..<t.jobs {
        jobs.append(Job(target: ti, index: j))
        try spawn(jobs.count - 1, seconds: total)
        k += 1
      }
    }
    sample()
  }

  /// Starts (or restarts) job `n` for `seconds`.
  mutating func spawn(_ n: Int, seconds: Int) throws {
    let t = targets[jobs[n].target]
    let gen = jobs[n].generation
    let log = "\(runDir)/\(t.name).job\(jobs[n].index)\(gen > 0 ? ".\(gen)" : "").log"
    _ = FileManager.default.createFile(atPath: log, contents: nil)
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
    var options = [
      "-max_total_time=\(seconds)", "-detect_leaks=0", "-print_final_stats=1", "-max_len=\(maxLen)",
      "-timeout=\(timeout)", "-seed=\(UInt32(truncatingIfNeeded: seed &+ UInt64(n) &+ UInt64(gen * 1000)))",
    ]
    // A differential target holds a real allocator that keeps freed memory (libmimalloc's segment cache;
    // seen: 2.1 GB RSS after a few hundred inputs against libFuzzer's 2 GB default): a larger limit there.
    // The heaps family too: mimalloc's realloc of a multi-GiB block copies it (seen: a 29-op input whose
    // realloc of a 4 GB aligned block reached 2.3 GB RSS, a false out-of-memory under the default).
    if t.differential || t.family == "heaps" { options.append("-rss_limit_mb=8192") }
    if FileManager.default.fileExists(atPath: FuzzWorkspace.dictionary(t)) { options.append("-dict=\(FuzzWorkspace.dictionary(t))") }
    let corpora = [record.targets[jobs[n].target].corpus] + (seeds ? [FuzzWorkspace.stagedSeeds(t)] : [])
    // Crash inputs go to crashes/<target>/, never the working directory (LibFuzzerArguments).
    let args = LibFuzzerArguments.campaign(target: t.name, options: options, corpora: corpora)
    let p = Process()
    p.executableURL = URL(fileURLWithPath: FuzzWorkspace.binary(t))
    p.arguments = args
    p.environment = FuzzWorkspace.environment(bugs: bugs)
    p.standardOutput = handle
    p.standardError = handle
    p.standardInput = FileHandle.nullDevice
    try p.run()
    try? handle.close()
    jobs[n].process = p
    jobs[n].log = log
    jobs[n].offset = 0
    jobs[n].partial = ""
    jobs[n].last = nil
    jobs[n].finalExecs = nil
    jobs[n].artifacts = []
    jobs[n].trap = nil
    record.targets[jobs[n].target].processes += 1
    record.targets[jobs[n].target].logs.append(log)
    if gen == 0 {
      Console.err("fuzz: started \(t.product) job \(jobs[n].index) (pid \(p.processIdentifier)): \(FuzzWorkspace.binary(t)) \(args.joined(separator: " "))")
    }
  }

  /// Reads what job `n` wrote since the last call.
  mutating func read(_ n: Int) {
    guard let h = FileHandle(forReadingAtPath: jobs[n].log) else { return }
    defer { try? h.close() }
    try? h.seek(toOffset: jobs[n].offset)
    guard let data = try? h.readToEnd(), !data.isEmpty else { return }
    jobs[n].offset += UInt64(data.count)
    let text = jobs[n].partial + String(decoding: data, as: UTF8.self)
    var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    jobs[n].partial = String(lines.removeLast())
    for line in lines {
      if let s = LibFuzzerOutput.status(line) {
        jobs[n].last = s
        jobs[n].covSeen = max(jobs[n].covSeen, s.cov)
        jobs[n].ftSeen = max(jobs[n].ftSeen, s.ft)
        continue
      }
      if let (name, value) = LibFuzzerOutput.finalStat(line), name == "number_of_executed_units" { jobs[n].finalExecs = value }
      if let path = LibFuzzerOutput.artifactPath(line) { jobs[n].artifacts.append(path) }
      if let reason = LibFuzzerOutput.trapReason(line) { jobs[n].trap = reason }
    }
  }

  func execs(_ job: Job) -> Int { job.execsBefore + (job.finalExecs ?? job.last?.execs ?? 0) }

  /// The loop: poll every second until every process has ended.
  mutating func loop(every: Int) {
    var lastProgress = 0.0
    while true {
      Thread.sleep(forTimeInterval: 1)
      if Interrupt.requested && !stopping { interrupt() }
      var running = 0
      for n in jobs.indices {
        read(n)
        guard let p = jobs[n].process else { continue }
        if p.isRunning { running += 1; continue }
        ended(n, status: p.terminationStatus)
        if jobs[n].process != nil { running += 1 }
      }
      if running == 0 {
        sample()
        break
      }
      if elapsed - lastProgress >= Double(every) {
        lastProgress = elapsed
        progress()
      }
      // Safety net: a process that outlives the time box by a minute is interrupted.
      if !stopping && elapsed > Double(total) + 60 { Console.err("fuzz: time box passed; interrupting"); interrupt() }
    }
  }

  /// Job `n`'s process ended with `status`.
  mutating func ended(_ n: Int, status: Int32) {
    read(n)
    let t = targets[jobs[n].target]
    jobs[n].execsBefore = execs(jobs[n])
    jobs[n].finalExecs = nil
    jobs[n].last = nil
    jobs[n].process = nil
    for path in jobs[n].artifacts { triage(path, target: jobs[n].target, reason: jobs[n].trap) }
    let left = total - Int(elapsed)
    if status != 0 && jobs[n].artifacts.isEmpty && !stopping {
      Console.err("fuzz: \(t.product) job \(jobs[n].index) exited with status \(status) and saved no input; see \(jobs[n].log)")
    }
    let crashed = !jobs[n].artifacts.isEmpty
    if crashed && untilCrash && !stopping {
      Console.err("fuzz: first crash found after \(Int(elapsed)) s; stopping (--until-crash)")
      record.state = "stopped at first crash"
      interrupt()
      return
    }
    if crashed && !stopping && left >= 5 {
      jobs[n].generation += 1
      do { try spawn(n, seconds: left) } catch { Console.err("fuzz: cannot restart \(t.product): \(error)") }
    }
  }

  /// Runs a saved input through the executor, keeps a decoded twin next to it, and records the crash.
  mutating func triage(_ path: String, target ti: Int, reason: String?) {
    let t = targets[ti]
    let base = (path as NSString).lastPathComponent
    let bytes = (try? ProgramFiles.read(path)) ?? []
    var signature: CrashSignature
    var line: String
    var program = t.decode(bytes)
    if base.hasPrefix("timeout-") || base.hasPrefix("oom-") || base.hasPrefix("slow-unit-") {
      let kind = base.hasPrefix("timeout-") ? "timeout" : base.hasPrefix("oom-") ? "out-of-memory" : "slow unit"
      signature = CrashSignature(rule: kind, opKind: "none")
      line = "libFuzzer \(kind) (\(program.ops.count) ops)"
    } else if let adapter = t.makeAdapter(bugs) {
      let v = CrashTriage.triage(t, bytes, on: adapter)
      program = v.program
      signature = v.signature
      line = v.violation == nil ? (reason ?? "crash that the executor does not reproduce: \(v.line)") : v.line
    } else {
      signature = CrashSignature(rule: "unknown", opKind: "none")
      line = reason ?? "crash"
    }
    let flags = bugs.map { " --bug \($0)" }.joined()
    let repro = "scripts/repro \(path)\(flags)"
    let twin = ProgramText.render(program, family: t.family, comments: [
      "crash input \(base) of fuzz run \(record.id), target \(t.name)\(bugs.isEmpty ? "" : ", bugs: " + bugs.joined(separator: ","))",
      "verdict: \(line)", "repro: \(repro)",
    ] + t.inputComments(bytes))
    try? ProgramFiles.write(twin, to: path + ".txt")
    let at = elapsed
    if let i = record.targets[ti].crashes.firstIndex(where: { $0.signature == signature }) {
      record.targets[ti].crashes[i].duplicates += 1
      return
    }
    record.targets[ti].crashes.append(FuzzRunRecord.Crash(file: path, signature: signature, line: line, foundAfter: at, repro: repro))
    Console.out("fuzz: CRASH in \(t.name) after \(Int(at)) s: \(line)\n  input: \(path) (decoded: \(path).txt)\n  repro: \(repro)")
  }

  /// Sends SIGINT to every running process (libFuzzer prints its final stats and exits); the loop waits.
  mutating func interrupt() {
    stopping = true
    if record.state == "running" { record.state = "interrupted" }
    for j in jobs { if let p = j.process, p.isRunning { kill(p.processIdentifier, SIGINT) } }
    // A process that ignores SIGINT for 20 s is killed.
    let deadline = clock.now + .seconds(20)
    while clock.now < deadline, jobs.contains(where: { $0.process?.isRunning == true }) { Thread.sleep(forTimeInterval: 0.2) }
    for j in jobs { if let p = j.process, p.isRunning { kill(p.processIdentifier, SIGKILL) } }
  }

  /// Updates the record from the jobs, prints one progress line per target and appends the samples.
  mutating func progress() {
    sample()
    for (ti, r) in record.targets.enumerated() {
      let mine = jobs.filter { $0.target == ti }
      let rate = mine.compactMap { $0.last?.execPerSec }.reduce(0, +)
      Console.err("fuzz [\(CLISupport.spell(.seconds(Int64(elapsed))))/\(CLISupport.spell(.seconds(Int64(total))))] \(r.name): "
                  + "\(r.execs) execs, \(rate) exec/s, cov \(r.cov), ft \(r.ft), corpus \(r.corpusEnd) (+\(r.corpusEnd - r.corpusStart)), "
                  + "crashes \(r.crashes.count + r.crashes.map(\.duplicates).reduce(0, +))")
    }
    save()
  }

  mutating func sample() {
    let now = elapsed
    for (ti, t) in targets.enumerated() {
      let mine = jobs.filter { $0.target == ti }
      var r = record.targets[ti]
      r.execs = mine.map(execs).reduce(0, +)
      r.cov = max(r.cov, mine.map(\.covSeen).max() ?? 0)
      r.ft = max(r.ft, mine.map(\.ftSeen).max() ?? 0)
      r.corpusEnd = FuzzWorkspace.fileCount(r.corpus)
      r.seconds = now
      r.execPerSec = now > 0 ? Double(r.execs) / now : 0
      record.targets[ti] = r
      let rate = mine.compactMap { $0.last?.execPerSec }.reduce(0, +)
      samples += FuzzSample(seconds: now, target: t.name, execs: r.execs, execPerSec: rate, cov: r.cov, ft: r.ft, corpus: r.corpusEnd,
                            crashes: r.crashes.count + r.crashes.map(\.duplicates).reduce(0, +)).csvLine + "\n"
    }
  }

  func save() {
    var r = record
    r.elapsedSeconds = elapsed
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    if let data = try? encoder.encode(r) { try? ProgramFiles.write([UInt8](data), to: runDir + "/run.json") }
    try? ProgramFiles.write(samples, to: runDir + "/samples.csv")
  }

  mutating func finish() {
    if record.state == "running" { record.state = "done" }
    record.elapsedSeconds = elapsed
    save()
    var text = "fuzz: run \(record.id) \(record.state) after \(Int(elapsed)) s\n"
    for r in record.targets {
      text += "  \(r.name): \(r.execs) execs in \(Int(r.seconds)) s (\(Int(r.execPerSec.rounded())) exec/s over \(r.jobs) job\(r.jobs == 1 ? "" : "s")), "
        + "cov \(r.cov), ft \(r.ft), corpus \(r.corpusStart) → \(r.corpusEnd), \(r.crashes.count) distinct crash\(r.crashes.count == 1 ? "" : "es")\n"
      for c in r.crashes {
        text += "    \(c.signature) after \(Int(c.foundAfter)) s: \(c.line)\n      repro: \(c.repro)\n"
      }
    }
    text += "record: \(runDir)/run.json — summary and coverage plot: swift run -c release alloc-check report"
    Console.out(text)
  }
}
