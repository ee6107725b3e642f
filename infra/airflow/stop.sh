#!/usr/bin/env bash
# Stop the local Airflow started by start.sh: each component's whole process group (its LocalExecutor
# workers and task processes included), by the pid recorded at start. Idempotent.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck disable=SC1091
source "$here/env.sh"
run_dir="$AIRFLOW_HOME/run"
[[ -d $run_dir ]] || exit 0
exec 9>"$run_dir/lock"
flock 9

# shellcheck source=../lib/pids.sh
source "$here/../lib/pids.sh"

# Scheduler first (no new work), api-server last (running tasks report through it).
for c in scheduler triggerer dag-processor api-server; do
  pidfile="$run_dir/$c.pid"
  [[ -s $pidfile ]] || continue
  pid="$(cat "$pidfile")"
  if group_alive "$pid"; then
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 1 "${GOVLAKE_AIRFLOW_STOP_TIMEOUT:-30}"); do
      group_alive "$pid" || break
      sleep 1
    done
    if group_alive "$pid"; then
      echo "airflow $c: still running after SIGTERM; killing process group $pid" >&2
      kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    echo "airflow $c: stopped (pid $pid)"
  fi
  rm -f "$pidfile"
done
