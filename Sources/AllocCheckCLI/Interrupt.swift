// Interrupt.swift — Ctrl-C for the long commands (soak, shrink): ``Interrupt/install()`` replaces SIGINT's
// default action with a handler that only sets an atomic flag, and the command polls
// ``Interrupt/requested`` between programs or shrink attempts, so it can stop cleanly and save its work.

import Foundation
import Synchronization

/// Set by the SIGINT handler; never cleared. Relaxed ordering on both sides: the flag carries no other data,
/// and the polling loop only has to see it eventually (pairs with the load in ``Interrupt/requested``).
let interruptFlag = Atomic<Bool>(false)

enum Interrupt {
  /// Installs the handler. Further SIGINTs are absorbed too (`timeout -s INT` sends one to the process and
  /// one to its group); Ctrl-\ (SIGQUIT) still ends the process at once.
  static func install() {
    signal(SIGINT) { _ in interruptFlag.store(true, ordering: .relaxed) }
  }

  static var requested: Bool { interruptFlag.load(ordering: .relaxed) }
}
