#!/bin/bash -eu
# build.sh — builds alloc-check's libFuzzer targets the OSS-Fuzz / ClusterFuzzLite way (Swift projects):
# the environment gives $SRC (sources, this repository at $SRC/alloc-check), $OUT (where fuzzers, seed
# corpora, dictionaries and options go), $WORK (scratch), $SANITIZER (address, undefined, coverage, or
# none / fuzzer-only) and, on the base-builder-swift image, `precompile_swift`, which sets $SWIFTFLAGS.
# Outputs per target (products `fuzz-<name>-ops` in Package.swift, corpus in corpus/<name>/):
#   $OUT/<fuzzer>                    the fuzz binary (static Swift runtime: the runner image has none)
#   $OUT/<fuzzer>_seed_corpus.zip    every committed seed and regression (.bin) of corpus/<name>/
#   $OUT/<fuzzer>.dict               corpus/<name>/<name>.dict
#   $OUT/<fuzzer>.options            [libfuzzer] detect_leaks=0 (LeakSanitizer misreads Swift's heap), max_len;
#                                    [asan] allocator_may_return_null=1 (impossible sizes must give NULL)
# Tested on any machine by scripts/oss-fuzz-check, which runs this with those variables on temp folders.
set -o pipefail
: "${SRC:?}" "${OUT:?}" "${WORK:?}"
SANITIZER="${SANITIZER:-address}"
cd "$SRC/alloc-check"

# precompile_swift (base-builder-swift) sets SWIFTFLAGS from $SANITIZER; it passes -sanitize=fuzzer through
# -Xswiftc only, which does not make SwiftPM link libFuzzer's driver, so SwiftPM's own flags are added below.
if command -v precompile_swift >/dev/null 2>&1; then
  . precompile_swift
fi
flags=(-c release --sanitize=fuzzer --static-swift-stdlib --scratch-path "$WORK/alloc-check-build"
       -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table)
case "$SANITIZER" in
  address|undefined|thread) flags+=(--sanitize="$SANITIZER") ;;
  coverage) flags+=(-Xswiftc -profile-generate -Xswiftc -profile-coverage-mapping) ;;
  none|fuzzer-only|"") ;;
  *) echo "build.sh: sanitizer $SANITIZER is not supported for Swift; building fuzzer-only" >&2 ;;
esac

products=$(sed -n 's/.*\.executable(name: "\(fuzz-[a-z0-9-]*\)".*/\1/p' Package.swift)
[ -n "$products" ] || { echo "build.sh: no fuzz-* products in Package.swift" >&2; exit 1; }
for fuzzer in $products; do
  # The differential targets (fuzz-*-diff) load libpython3.11 / libmimalloc at run time, which OSS-Fuzz's
  # runner image does not have: they are run by scripts/fuzz-check and `alloc-check fuzz` only.
  case "$fuzzer" in *-diff) echo "build.sh: $fuzzer skipped (needs a real peer library at run time)"; continue ;; esac
  name=${fuzzer#fuzz-}
  name=${name%-ops}
  echo "build.sh: $fuzzer (SANITIZER=$SANITIZER): swift build ${flags[*]} --product $fuzzer"
  swift build "${flags[@]}" --product "$fuzzer"
  cp "$WORK/alloc-check-build/release/$fuzzer" "$OUT/$fuzzer"
  rm -f "$OUT/${fuzzer}_seed_corpus.zip"
  (cd "corpus/$name" && find . -name '*.bin' -print | sort | zip -q -j "$OUT/${fuzzer}_seed_corpus.zip" -@)
  cp "corpus/$name/$name.dict" "$OUT/$fuzzer.dict"
  # Impossible sizes (malloc(2^63), calloc overflow) are part of the input space: the allocator must return
  # NULL, so AddressSanitizer must too instead of aborting (allocator_may_return_null).
  printf '[libfuzzer]\ndetect_leaks = 0\nmax_len = 4096\n\n[asan]\nallocator_may_return_null = 1\ndetect_leaks = 0\n' > "$OUT/$fuzzer.options"
done
