// AllocCheck.swift — the `alloc-check` command: its subcommands (one per file, `<Name>Command.swift`) and
// the one place exit codes are decided. 0: pass / done; 1: a program broke a rule (run, shrink, soak);
// 2: bad input — unreadable file, parse error, unknown name, bad option — printed as one line on stderr.
// Parsing helpers and error texts live in Harness (``CLISupport``, ``CLIError``) so CLITests can reach them.

import ArgumentParser
import Foundation
import Harness
import AllocUnderTest

@main
struct AllocCheck: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "alloc-check",
    abstract: "Verification suite for CPython's allocators: run, soak, shrink and inspect op programs.",
    discussion: """
      Exit codes: 0 pass, 1 a program broke an oracle rule or allocator invariant (fuzz: a crash), 2 bad input.
      Seeds are decimal or 0x-hex. Fault plans: never, always, nth:K, every:N (errno ENOMEM).
      Timings are only meaningful in a release build: swift run -c release alloc-check …
      """,
    subcommands: [
      RunCommand.self, DiffCommand.self, SoakCommand.self, ShrinkCommand.self, StatsCommand.self, BenchCommand.self,
      DecodeCommand.self, EncodeCommand.self, BugsCommand.self, RulesCommand.self,
      StressCommand.self, FuzzCommand.self, ReproCommand.self, MinimizeCommand.self, MergeCommand.self, ReportCommand.self, SeedsCommand.self,
      ValgrindCheckCommand.self, HostCommand.self, ExploreCommand.self, FaultsCommand.self, ScoreCommand.self, LinearizeCommand.self,
      MutateCommand.self, MutantCheckCommand.self,
    ]
  )

  /// Parses and runs one subcommand. Departs from `ParsableCommand.main()` only in exit codes: usage
  /// errors exit 2 (not EX_USAGE, 64), like every other bad input, with a one-line message.
  static func main() {
    reexecForJemallocIfNeeded()
    do {
      var command = try parseAsRoot()
      try command.run()
    } catch let error as CLIError {
      Console.fail(error.description)
    } catch {
      guard exitCode(for: error) == .validationFailure else { exit(withError: error) }
      let args = CommandLine.arguments.dropFirst()
      let sub = configuration.subcommands.map { $0._commandName }.first { $0 == args.first }
      Console.fail(message(for: error).replacingOccurrences(of: "Error: ", with: "")
                     + " (see alloc-check help\(sub.map { " " + $0 } ?? ""))")
    }
  }
}

/// jemalloc's initial-exec TLS fits a dlopen'ed copy only if the loader kept spare static TLS, which a glibc
/// tunable read at process start decides: a command that names jemalloc (or --allocator all) re-executes
/// itself once with it.
private func reexecForJemallocIfNeeded() {
  let env = ProcessInfo.processInfo.environment
  let args = CommandLine.arguments
  let namesAll = zip(args, args.dropFirst()).contains { $0 == "--allocator" && $1 == "all" } || args.contains("--allocator=all")
  guard args.contains(where: { $0.contains("jemalloc") }) || namesAll,
        !(env["GLIBC_TUNABLES"] ?? "").contains("optional_static_tls") else { return }
  let tunables = [env["GLIBC_TUNABLES"], PeerLibrary.staticTLSTunable].compactMap { $0 }.filter { !$0.isEmpty }
  setenv("GLIBC_TUNABLES", tunables.joined(separator: ":"), 1)
  let cArgs = CommandLine.arguments.map { strdup($0) } + [nil]
  execv("/proc/self/exe", cArgs)
  // execv returned: carry on without the tunable; loading jemalloc then says how to start the process.
}
