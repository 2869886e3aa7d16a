// BugHunt+Domains.swift — the domains generator as a hunt generator. The hunt and the shrink themselves are
// BugHunt.swift's: ``Executor/run(_:on:config:)`` hands a ``DomainsAdapter`` to ``DomainsExecutor``.

import Oracle

extension DomainsProgramGenerator: ProgramGenerating {
  public var family: String { "domains" }
  public var profileName: String? { profile.map { "\($0)" } }
}
