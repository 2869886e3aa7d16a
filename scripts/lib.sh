# lib.sh — shared by the scripts (sourced, not run): the `try <label> <cmd…>` step wrapper of style R40.
# `try` logs the step, runs it with its output in a log file under .build-logs/, prints its duration,
# and on failure tails the log and exits with the step's status.

try() {
  local label="$1"; shift
  mkdir -p .build-logs
  local log=".build-logs/${label// /_}.log"
  local start=$SECONDS
  echo "==> ${label}: $*"
  if "$@" >"$log" 2>&1; then
    echo "    ${label}: ok in $((SECONDS - start)) s (log: ${log})"
  else
    local status=$?
    echo "    ${label}: FAILED (exit ${status}) after $((SECONDS - start)) s; last lines of ${log}:"
    tail -n 40 "$log" | sed 's/^/    | /'
    exit "$status"
  fi
}

# try_shown <label> <cmd…>: like try, but the output goes to the terminal too (long runs with progress).
try_shown() {
  local label="$1"; shift
  mkdir -p .build-logs
  local log=".build-logs/${label// /_}.log"
  local start=$SECONDS
  echo "==> ${label}: $*"
  set +e
  "$@" 2>&1 | tee "$log"
  local status=${PIPESTATUS[0]}
  set -e
  if [ "$status" -eq 0 ]; then
    echo "    ${label}: ok in $((SECONDS - start)) s (log: ${log})"
  else
    echo "    ${label}: FAILED (exit ${status}) after $((SECONDS - start)) s (log: ${log})"
    exit "$status"
  fi
}
