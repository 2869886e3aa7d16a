// PymallocOps.swift — the pymalloc op-sequence fuzz entry: input bytes are decoded with the frozen
// pymalloc family v1 format (Documentation/ProgramFormat.md) and run through the executor with every
// oracle rule and invariant on; a violation traps with a one-line reason (rule id and op index) so
// libFuzzer saves the input. The libFuzzer executable and its build live with the fuzzing issue.

import Harness
import Oracle

public enum PymallocOpsTarget {
  /// Runs one input on `adapter` (reused across inputs: `Executor.run` resets it); returns the first
  /// violation, nil when every rule holds.
  public static func run(_ bytes: [UInt8], on adapter: AllocatorAdapter) -> Violation? {
    let program = OpDecoder.decodePymalloc(bytes, maxOps: 4096)
    return Executor.run(program, on: adapter, config: ExecutorConfig(recordTrace: false)).violation
  }

  /// The libFuzzer body: traps on a violation so the input is saved as a crash.
  public static func fuzzOne(_ bytes: [UInt8], on adapter: AllocatorAdapter) {
    if let v = run(bytes, on: adapter) { fatalError("alloc-check: \(v.rule) at op \(v.opIndex): \(v.detail)") }
  }
}
