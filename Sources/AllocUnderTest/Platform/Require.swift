// Require.swift — `require`, the always-on check of this target. Unlike `precondition`, whose message is
// dropped from optimised builds, it prints why it stopped in every build (via `fatalError`), so a person
// and the exit tests see the reason in the release builds that CI and the fuzzers use.

/// Stops the process with `message` unless `condition` holds. For misuse that can only be our own bug.
@inline(__always)
func require(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
             file: StaticString = #fileID, line: UInt = #line) {
  if !condition() { fatalError(message(), file: file, line: line) }
}
