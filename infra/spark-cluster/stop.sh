#!/usr/bin/env bash
# Stop the local Spark standalone cluster started by start.sh: workers first (each takes its
# executors down with it), then the master. Each daemon was started in its own process group, so
# SIGTERM goes to the whole group (daemon, executors, their Python workers); what is still there
# after GOVLAKE_SPARK_CLUSTER_STOP_TIMEOUT seconds is killed. Idempotent. Logs and work dirs stay
# in the run folder (delete it, or `make clean`, to start empty).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"

stop_timeout="${GOVLAKE_SPARK_CLUSTER_STOP_TIMEOUT:-30}"
if [[ ! -d $SC_PID_DIR ]]; then
  echo "spark-cluster: not running"
  exit 0
fi
sc_lock

# Every pid file, not only those of the configured worker count: a cluster may have been started
# with another GOVLAKE_SPARK_WORKERS. Workers (sorted first) before the master.
mapfile -t pidfiles < <(find "$SC_PID_DIR" -maxdepth 1 -name '*.pid' | sort -r)
started=$EPOCHREALTIME
stopped=0
for pidfile in "${pidfiles[@]}"; do
  c="$(basename "$pidfile" .pid)"
  if pid="$(sc_pid "$c")"; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + stop_timeout))
    while group_alive "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
    if group_alive "$pid"; then
      echo "spark-cluster: $c still running after ${stop_timeout}s; killing process group $pid" >&2
      kill -KILL -- "-$pid" 2>/dev/null || true
      while group_alive "$pid"; do sleep 0.1; done
    fi
    echo "spark-cluster: $c stopped (pid $pid)"
    stopped=$((stopped + 1))
  fi
  rm -f "$pidfile"
done
rm -f "$SC_STATE"
if ((stopped == 0)); then
  echo "spark-cluster: not running"
else
  echo "spark-cluster: stopped in $(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')s"
fi
