// DifferentialPair.swift — what `alloc-check diff` and the differential fuzz targets hold: the reference and
// one real peer for one family, ready to run programs side by side, and a compact result that crosses a
// process boundary (``DifferentialOutcome``: the command line runs each program in a forked child).

import AllocUnderTest
import Oracle

public protocol DifferentialPair: AnyObject {
  var family: ProgramFamily { get }
  var peerName: String { get }
  /// Must each program run in a forked child (the peer's state outlives a run and cannot be reset)?
  var needsIsolation: Bool { get }
  func run(_ program: Program, runSeed: UInt64) -> DifferentialVerdict
}

extension PymallocDifferential: DifferentialPair {
  public var family: ProgramFamily { .pymalloc }
  public var peerName: String { peer.name }
  public var needsIsolation: Bool { true }
}

/// A differential run in a few fields: pass, or the failing side, rule, op and detail.
public struct DifferentialOutcome: Sendable, Equatable, Codable {
  public var side: String?
  public var rule: String?
  public var opIndex: Int?
  public var detail: String?
  public var compared: Int
  public var referenceOps: Int
  public var peerOps: Int
  public var passed: Bool { rule == nil }

  public init(_ v: DifferentialVerdict) {
    let f = v.failure
    side = f?.side
    rule = f?.violation.rule
    opIndex = f?.violation.opIndex
    detail = f?.violation.detail
    compared = v.compared
    referenceOps = v.reference.opsExecuted
    peerOps = v.peer.opsExecuted
  }

  /// One line of text each field, for the pipe from a child process.
  public var encoded: [UInt8] {
    let fields = [side ?? "", rule ?? "", opIndex.map(String.init) ?? "", detail ?? "", "\(compared)", "\(referenceOps)", "\(peerOps)"]
    return Array(fields.map { $0.replacingNewlines() }.joined(separator: "\n").utf8)
  }

  public init?(decoding bytes: [UInt8]) {
    let f = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    guard f.count == 7, let c = Int(f[4]), let r = Int(f[5]), let p = Int(f[6]) else { return nil }
    side = f[0].isEmpty ? nil : f[0]
    rule = f[1].isEmpty ? nil : f[1]
    opIndex = Int(f[2])
    detail = f[3].isEmpty ? nil : f[3].restoringNewlines()
    compared = c
    referenceOps = r
    peerOps = p
  }
}

extension String {
  fileprivate func replacingNewlines() -> String { split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\u{2424}") }
  fileprivate func restoringNewlines() -> String { split(separator: "\u{2424}", omittingEmptySubsequences: false).joined(separator: "\n") }
}
