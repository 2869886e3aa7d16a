#!/bin/bash -eu
# ClusterFuzzLite build script: the same build as OSS-Fuzz's (oss-fuzz/build.sh in this repository), run
# with the variables ClusterFuzzLite sets ($SRC, $OUT, $WORK, $SANITIZER). Checked by scripts/oss-fuzz-check.
exec "$SRC/alloc-check/oss-fuzz/build.sh"
