// swift-tools-version: 6.2
//
// alloc-check: a reference pymalloc/mimalloc allocator in Swift, checked against a simple model oracle by
// property tests, libFuzzer targets and stress runs. The layer order is written in Sources/README.md.
//
// Build flags:
// - `-DALLOC_INTERNAL_CHECKS` is *not* used: the O(n) invariant walkers (`checkInvariants()`) are always
//   compiled, because the executor calls them as an oracle step. They cost nothing unless called; the
//   oracle's cadence (`WalkCadence`) decides how often — `alloc-check bench` prints what they cost.
import PackageDescription

// Oracle, Harness, FuzzTargets and Stress hold no raw pointers (style R17): strict memory safety, warnings as errors.
let strictSafety: [SwiftSetting] = [.strictMemorySafety(), .treatAllWarnings(as: .error)]

// The allocators and the executor in release builds: no dynamic exclusivity checks (issue 12, item 3). Every
// access to a class's stored array or struct otherwise pays a runtime call (swift_beginAccess), which the C
// originals do not; callgrind counted 5 % of a fuzz input's instructions in them. The static exclusivity
// diagnostics still apply, and debug builds (the TSan build among them) keep the dynamic checks.
let releaseSpeed: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
  name: "alloc-check",
  platforms: [.macOS(.v15)],
  products: [
    .executable(name: "alloc-check", targets: ["AllocCheckCLI"]),
    // libFuzzer executables, one per program family (Sources/FuzzTargets/FuzzTarget.swift has the registry).
    // Build: swift build --sanitize=fuzzer --product fuzz-pymalloc-ops --scratch-path .build-fuzz
    .executable(name: "fuzz-pymalloc-ops", targets: ["FuzzPymallocOps"]),
    .executable(name: "fuzz-heaps-ops", targets: ["FuzzHeapsOps"]),
    .executable(name: "fuzz-domains-ops", targets: ["FuzzDomainsOps"]),
    // Differential targets: the reference against a real allocator (issue 11).
    .executable(name: "fuzz-pymalloc-diff", targets: ["FuzzPymallocDiff"]),
    .executable(name: "fuzz-heaps-diff", targets: ["FuzzHeapsDiff"]),
    // A schedule of the controlled scheduler + a parallel heaps program (issue 14).
    .executable(name: "fuzz-heaps-schedule-ops", targets: ["FuzzHeapsSchedule"]),
    .library(name: "Harness", targets: ["Harness"]),
    // The reference allocators behind a C ABI (issue 13): Sources/AllocCheckHost/alloccheck_ref.h.
    .library(name: "alloccheck-ref", type: .dynamic, targets: ["RefABI"]),
    // CPython 3.11 embedded with its object allocator served by liballoccheck-ref.so (`alloc-check host`).
    .executable(name: "alloc-check-host", targets: ["AllocCheckHost"]),
  ],
  dependencies: [
    .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
    .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
  ],
  targets: [
    // Layer 1-2: platform layer and the reference allocators. The only target with raw pointers.
    .target(name: "AllocUnderTest", dependencies: ["ValgrindShim"], swiftSettings: releaseSpeed),
    // Valgrind client requests as C functions (the requests are C macros); empty without Valgrind's headers.
    // Built with DWARF 4 so Valgrind 3.19 can read its line tables.
    .target(name: "ValgrindShim", cSettings: [.unsafeFlags(["-gdwarf-4"])]),
    // The model oracle: value types only; never imports AllocUnderTest.
    .target(name: "Oracle", swiftSettings: strictSafety),
    // Op programs (decode/encode/text), adapters, executor, shrinker, generator.
    .target(name: "Harness", dependencies: ["AllocUnderTest", "Oracle"], swiftSettings: strictSafety + releaseSpeed),
    // Fuzz targets over the executor: the registry, seeds, dictionaries, crash triage and run records.
    .target(name: "FuzzTargets", dependencies: ["Harness"], exclude: ["Entries"], swiftSettings: strictSafety),
    // One libFuzzer executable per family: only the @_cdecl("LLVMFuzzerTestOneInput") entry, no main
    // (one file not called main.swift, so SwiftPM compiles it as a library; --sanitize=fuzzer links
    // libFuzzer's main). Built without --sanitize=fuzzer it does not link (no main): build it only that way.
    .executableTarget(name: "FuzzPymallocOps", dependencies: ["FuzzTargets"],
                      path: "Sources/FuzzTargets/Entries/FuzzPymallocOps", swiftSettings: strictSafety),
    .executableTarget(name: "FuzzHeapsOps", dependencies: ["FuzzTargets"],
                      path: "Sources/FuzzTargets/Entries/FuzzHeapsOps", swiftSettings: strictSafety),
    .executableTarget(name: "FuzzDomainsOps", dependencies: ["FuzzTargets"],
                      path: "Sources/FuzzTargets/Entries/FuzzDomainsOps", swiftSettings: strictSafety),
    .executableTarget(name: "FuzzPymallocDiff", dependencies: ["FuzzTargets"],
                      path: "Sources/FuzzTargets/Entries/FuzzPymallocDiff", swiftSettings: strictSafety),
    .executableTarget(name: "FuzzHeapsDiff", dependencies: ["FuzzTargets"],
                      path: "Sources/FuzzTargets/Entries/FuzzHeapsDiff", swiftSettings: strictSafety),
    .executableTarget(name: "FuzzHeapsSchedule", dependencies: ["FuzzTargets"],
                      path: "Sources/FuzzTargets/Entries/FuzzHeapsSchedule", swiftSettings: strictSafety),
    // The C ABI of the reference allocators: `@_cdecl` entry points over Harness's CallOracle and CallRecorder.
    .target(name: "RefABI", dependencies: ["AllocUnderTest", "Harness", "Oracle"]),
    // The embedding host: C, links libpython3.11 (libpython3.11-dev) and dlopens liballoccheck-ref.so.
    .executableTarget(name: "AllocCheckHost",
                      cSettings: [.unsafeFlags(["-I/usr/include/python3.11"])],
                      linkerSettings: [.linkedLibrary("python3.11"), .linkedLibrary("dl")]),
    // The real-thread stress runner (`alloc-check stress`): drives the reference allocators directly
    // (AllocUnderTest: `Mimalloc`, `Pymalloc`, and `MemoryAccess` for the canary words; no pointers here).
    .target(name: "Stress", dependencies: ["AllocUnderTest", "Harness"], swiftSettings: strictSafety),
    .executableTarget(
      name: "AllocCheckCLI",
      dependencies: [
        "AllocUnderTest", "Harness", "Stress", "FuzzTargets",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),
    .testTarget(
      name: "AllocCheckTests",
      dependencies: [
        "AllocUnderTest", "Oracle", "Harness", "FuzzTargets", "Stress", "RefABI",
        .product(name: "PropertyBased", package: "swift-property-based"),
      ],
      resources: []
    ),
  ],
  swiftLanguageModes: [.v6]
)
