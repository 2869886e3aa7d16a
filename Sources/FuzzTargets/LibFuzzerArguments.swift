// LibFuzzerArguments.swift — the argument vector of every libFuzzer process the `alloc-check` fuzz commands
// start (fuzz jobs, the "really fuzzes" proof, merge, libFuzzer's crash minimization). libFuzzer writes a
// crash, leak, timeout or OOM input as `<artifact_prefix>crash-<sha1>`, and its default prefix is the
// working directory: the package root. Every vector built here therefore carries `-artifact_prefix`
// under `crashes/<target>/` (inputs worth keeping) or `.fuzz/<target>/` (working files), and
// ``artifactsContained(_:target:)`` is the test every vector passes (FuzzArtifactTests).
// The scripts that start fuzz binaries themselves (scripts/fuzz-check, time-to-detect, oss-fuzz-check) pass
// their own prefix; a test reads them for it.

public enum LibFuzzerArguments {
  /// Crash inputs of `target` (kept, de-duplicated by `alloc-check report`).
  public static func crashesDir(_ target: String) -> String { "crashes/\(target)" }
  /// Working files of `target` (corpus, staged seeds, scratch artifacts).
  public static func workDir(_ target: String) -> String { ".fuzz/\(target)" }

  /// One fuzzing job of `alloc-check fuzz`: `options` (time, seed, lengths, dictionary …) and the corpus
  /// directories; crash inputs go to `crashes/<target>/`.
  public static func campaign(target: String, options: [String], corpora: [String]) -> [String] {
    options + ["-artifact_prefix=\(crashesDir(target))/"] + corpora
  }

  /// The proof that a binary really fuzzes: 1000 runs from the empty corpus `corpus`; a crash there is real
  /// (no bug is switched on), so it is kept with the others.
  public static func proof(target: String, corpus: String) -> [String] {
    ["-runs=1000", "-seed=1", "-detect_leaks=0", "-artifact_prefix=\(crashesDir(target))/", corpus]
  }

  /// `-merge=1` of `work` into `fresh`: an input that crashes while merging is kept in `crashes/<target>/`.
  public static func merge(target: String, into fresh: String, from work: String) -> [String] {
    ["-merge=1", "-detect_leaks=0", "-artifact_prefix=\(crashesDir(target))/", fresh, work]
  }

  /// libFuzzer's `-minimize_crash=1` of `input` for `seconds`, the result at `output`; the intermediate
  /// `minimized-from-*` files are working files under `.fuzz/<target>/minimize/`.
  public static func minimize(target: String, seconds: Int, input: String, output: String) -> [String] {
    ["-minimize_crash=1", "-max_total_time=\(seconds)", "-detect_leaks=0",
     "-artifact_prefix=\(workDir(target))/minimize/", "-exact_artifact_path=\(output)", input]
  }

  /// The directories the artifact prefixes of ``campaign(target:options:corpora:)`` … ``minimize(target:seconds:input:output:)``
  /// need (libFuzzer does not create them).
  public static func artifactDirectories(target: String) -> [String] { [crashesDir(target), workDir(target) + "/minimize"] }

  /// True when `args` sends every artifact of `target` under `crashes/<target>/` or `.fuzz/<target>/`: exactly
  /// one `-artifact_prefix=`, a relative directory (ending in `/`, since libFuzzer only concatenates) inside
  /// one of those two, with no `..` component.
  public static func artifactsContained(_ args: [String], target: String) -> Bool {
    let prefixes = args.filter { $0.hasPrefix("-artifact_prefix=") }.map { String($0.dropFirst("-artifact_prefix=".count)) }
    guard prefixes.count == 1, let p = prefixes.first, p.hasSuffix("/") else { return false }
    guard !p.split(separator: "/").contains("..") else { return false }
    return p.hasPrefix(crashesDir(target) + "/") || p.hasPrefix(workDir(target) + "/")
  }
}
