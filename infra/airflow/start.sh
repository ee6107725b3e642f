#!/usr/bin/env bash
# Start a local Airflow 3 on loopback: SQLite metadata DB, LocalExecutor, dags folder = repo dags/,
# api-server (UI + REST API) + scheduler + dag-processor (+ triggerer with GOVLAKE_AIRFLOW_TRIGGERER=1).
# Idempotent: components already running are left alone. Waits until Airflow reports them healthy.
# Configuration: see env.sh. Stop with infra/airflow/stop.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck disable=SC1091
source "$here/env.sh"

run_dir="$AIRFLOW_HOME/run"
log_dir="$AIRFLOW_HOME/logs"
mkdir -p "$run_dir" "$log_dir"
components=(api-server scheduler dag-processor)
[[ ${GOVLAKE_AIRFLOW_TRIGGERER:-0} == 1 ]] && components+=(triggerer)

# Only one start/stop at a time per AIRFLOW_HOME.
exec 9>"$run_dir/lock"
flock 9

is_running() {  # pidfile -> is that pid alive and an airflow process?
  local pid
  [[ -s $1 ]] || return 1
  pid="$(cat "$1")"
  kill -0 "$pid" 2>/dev/null && grep -qa airflow "/proc/$pid/cmdline" 2>/dev/null
}

all_running=1
for c in "${components[@]}"; do is_running "$run_dir/$c.pid" || all_running=0; done

if [[ $all_running == 0 ]]; then
  echo "airflow: home $AIRFLOW_HOME, dags $AIRFLOW__CORE__DAGS_FOLDER"
  airflow db migrate >>"$log_dir/db-migrate.log" 2>&1 || {
    tail -n 30 "$log_dir/db-migrate.log" >&2
    exit 1
  }
  python3 "$here/passwords.py"
  for c in "${components[@]}"; do
    pidfile="$run_dir/$c.pid"
    if is_running "$pidfile"; then
      echo "airflow $c: already running (pid $(cat "$pidfile"))"
      continue
    fi
    # Own session and process group, so stop.sh can end the component with all its children.
    args=("$c")
    [[ $c == scheduler || $c == triggerer ]] && args+=(--skip-serve-logs)
    setsid airflow "${args[@]}" >>"$log_dir/$c.log" 2>&1 </dev/null 9>&- &
    echo $! >"$pidfile"
    echo "airflow $c: started (pid $!, log $log_dir/$c.log)"
  done
  # While the components boot: the pool that bounds Spark work (tasks of a missing pool would wait).
  # SQLite has one writer: retry if a booting component holds the lock.
  for attempt in 1 2 3; do
    airflow pools set spark "${GOVLAKE_AIRFLOW_SPARK_SLOTS:-1}" \
      "Concurrent Spark tasks (each starts a local Spark JVM)" >>"$log_dir/pools.log" 2>&1 && break
    if [[ $attempt == 3 ]]; then
      tail -n 30 "$log_dir/pools.log" >&2
      echo "could not create the spark pool; run infra/airflow/stop.sh" >&2
      exit 1
    fi
    sleep 3
  done
fi

required=(scheduler dag_processor)
[[ ${GOVLAKE_AIRFLOW_TRIGGERER:-0} == 1 ]] && required+=(triggerer)
pidfiles=()
for c in "${components[@]}"; do pidfiles+=("$run_dir/$c.pid"); done
if ! python3 "$here/health.py" "${GOVLAKE_AIRFLOW_START_TIMEOUT:-240}" "${required[@]}" --pids "${pidfiles[@]}"; then
  for c in "${components[@]}"; do
    echo "--- last lines of $log_dir/$c.log" >&2
    tail -n 20 "$log_dir/$c.log" >&2 || true
  done
  exit 1
fi
if [[ $AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS == True ]]; then
  echo "UI: $GOVLAKE_AIRFLOW_URL (all-admins mode: no login)"
else
  echo "UI: $GOVLAKE_AIRFLOW_URL (users: $AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS; passwords in $AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE)"
fi
