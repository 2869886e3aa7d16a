// PeerCheck.swift — what a command does when the real allocator it was asked for cannot be loaded: by hand,
// one line naming the package to install and exit 0 (a skip, not a pass: the line says "skipped"); under
// CI (CI=true), the same line and exit 1, so a CI run without its peers fails instead of passing silently.

import AllocUnderTest
import ArgumentParser
import Foundation
import Harness

enum PeerCheck {
  static var underCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

  /// `make()`'s result, or the skip/failure above.
  static func require<T>(_ make: () throws(PeerUnavailable) -> T) throws -> T {
    do throws(PeerUnavailable) {
      return try make()
    } catch {
      if underCI {
        Console.err("alloc-check: FAILED: \(error) (CI=true: a missing peer fails the run)")
        throw ExitCode(1)
      }
      Console.out("alloc-check: skipped: \(error)")
      throw ExitCode(0)
    }
  }
}
