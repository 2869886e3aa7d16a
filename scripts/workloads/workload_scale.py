"""WORKLOAD_SCALE for the workload scripts: how much work a run does (0 < scale <= 10, default 1)."""

import os
import sys


def read_scale(name):
    """The scale from the environment; a bad value is one line on stderr and exit status 2."""
    raw = os.environ.get("WORKLOAD_SCALE", "").strip()
    if not raw:
        return 1.0
    try:
        scale = float(raw)
    except ValueError:
        scale = float("nan")
    if not 0 < scale <= 10:  # also rejects nan and inf
        print(f"workload {name}: WORKLOAD_SCALE must be a number > 0 and <= 10, "
              f"not {raw!r}", file=sys.stderr)
        sys.exit(2)
    return scale


def scale_note(scale):
    """Suffix for the summary line; empty at scale 1 so that output stays the same."""
    return "" if scale == 1 else f" (scale {scale:g})"
