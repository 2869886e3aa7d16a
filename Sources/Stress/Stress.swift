// Stress.swift — the home of the multithreaded cross-thread-free stress runner (issue 6: real threads,
// transfer slots, churn, TSan and Valgrind). Until then it holds only the workload description, shared
// with the command line so the parameters print the same way everywhere.

/// Parameters of a stress run, printed first by every run (style R39).
public struct StressParameters: Sendable, Equatable, CustomStringConvertible {
  public var threads: Int
  public var operations: Int
  public var seed: UInt64

  public init(threads: Int, operations: Int, seed: UInt64) {
    self.threads = threads
    self.operations = operations
    self.seed = seed
  }

  public var description: String { "threads=\(threads) ops=\(operations) seed=0x\(String(seed, radix: 16)) (not a benchmark)" }
}
