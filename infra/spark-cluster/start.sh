#!/usr/bin/env bash
# Start a local Spark standalone cluster: one master and GOVLAKE_SPARK_WORKERS workers (default 2),
# each its own JVM from the pip pyspark package (.venv/bin/spark-class), on 127.0.0.1 only, with
# every port derived from GOVLAKE_SPARK_CLUSTER_BASE_PORT and conf, logs, pids and worker work dirs
# in the run folder. Waits (bounded) until the master reports every worker ALIVE.
# Idempotent: components already running are left alone; missing ones are started.
# Drivers connect with GOVLAKE_SPARK_MASTER=spark://127.0.0.1:<base port>; executors find the
# project's jars at GOVLAKE_JARS_DIR (govlake.spark puts them on the executors' class path).
# Settings: see env.sh. Stop with infra/spark-cluster/stop.sh; check with status.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"

start_timeout="${GOVLAKE_SPARK_CLUSTER_START_TIMEOUT:-120}"
worker_cores="${GOVLAKE_SPARK_WORKER_CORES:-1}"
worker_memory="${GOVLAKE_SPARK_WORKER_MEMORY:-2g}"
[[ $worker_cores =~ ^[1-9][0-9]*$ ]] || {
  echo "spark-cluster: GOVLAKE_SPARK_WORKER_CORES=$worker_cores must be a positive integer" >&2
  exit 2
}
[[ $worker_memory =~ ^[1-9][0-9]*[mMgG]$ ]] || {
  echo "spark-cluster: GOVLAKE_SPARK_WORKER_MEMORY=$worker_memory: use e.g. 1536m or 2g" >&2
  exit 2
}

elapsed() {  # start time ($EPOCHREALTIME) -> seconds since, one decimal
  awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'
}

component_ports() {  # component -> the ports it listens on
  case "$1" in
    master) echo "$SC_MASTER_PORT $SC_MASTER_UI_PORT" ;;
    worker-*) echo "$(sc_worker_port "${1#worker-}") $(sc_worker_ui_port "${1#worker-}")" ;;
  esac
}

component_args() {  # component -> sets the array args (spark-class arguments)
  local i
  case "$1" in
    master)
      args=(org.apache.spark.deploy.master.Master --properties-file "$SC_PROPERTIES"
        --host 127.0.0.1 --port "$SC_MASTER_PORT" --webui-port "$SC_MASTER_UI_PORT")
      ;;
    worker-*)
      i="${1#worker-}"
      args=(org.apache.spark.deploy.worker.Worker --properties-file "$SC_PROPERTIES"
        --host 127.0.0.1 --port "$(sc_worker_port "$i")" --webui-port "$(sc_worker_ui_port "$i")"
        --cores "$worker_cores" --memory "$worker_memory" --work-dir "$SC_WORK_DIR/$1" "$SC_MASTER_URL")
      ;;
  esac
}

sc_lock

mapfile -t components < <(sc_components)
missing=()
for c in "${components[@]}"; do sc_pid "$c" >/dev/null || missing+=("$c"); done

if ((${#missing[@]} == 0)); then
  if [[ -n ${GOVLAKE_SPARK_CLUSTER_BASE_PORT:-} && $GOVLAKE_SPARK_CLUSTER_BASE_PORT != "$SC_BASE_PORT" ]]; then
    echo "spark-cluster: already runs on base port $SC_BASE_PORT, not $GOVLAKE_SPARK_CLUSTER_BASE_PORT" >&2
    exit 1
  fi
  if (($(sc_alive_workers) == SC_WORKERS)); then
    echo "spark-cluster: already running at $SC_MASTER_URL ($SC_WORKERS workers ALIVE, UI $SC_MASTER_UI_URL)"
    exit 0
  fi
fi

[[ -x $SC_SPARK_CLASS && -d $SPARK_HOME/jars ]] || {
  echo "spark-cluster: no pip pyspark at $SPARK_HOME ($SC_SPARK_CLASS); run infra/install.sh" >&2
  exit 2
}
command -v java >/dev/null || [[ -n ${JAVA_HOME:-} ]] || {
  echo "spark-cluster: Java (17) is required: no java on PATH and no JAVA_HOME" >&2
  exit 2
}
for c in "${missing[@]}"; do
  for port in $(component_ports "$c"); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "spark-cluster: port $port ($c) is already in use; choose another GOVLAKE_SPARK_CLUSTER_BASE_PORT" >&2
      exit 1
    fi
  done
done

mkdir -p "$SC_CONF_DIR" "$SC_LOG_DIR" "$SC_PID_DIR" "$SC_WORK_DIR"
# Daemon settings (the drivers' settings come from govlake.spark, not from here).
cat >"$SC_PROPERTIES" <<'EOF'
# Written by infra/spark-cluster/start.sh on every start.
# No REST submission server (port 6066): drivers connect over RPC; nothing else listens.
spark.master.rest.enabled false
# Spread each application's executors over all workers rather than filling one first.
spark.deploy.spreadOut true
# Keep finished applications' work dirs (executor logs) for inspection; `make clean` deletes them.
spark.worker.cleanup.enabled false
spark.ui.reverseProxy false
EOF
cat >"$SC_STATE" <<EOF
SC_BASE_PORT=$SC_BASE_PORT
SC_WORKERS=$SC_WORKERS
SC_MASTER_URL=$SC_MASTER_URL
SC_MASTER_UI_URL=$SC_MASTER_UI_URL
SC_WORK_DIR=$SC_WORK_DIR
EOF

started=$EPOCHREALTIME
for c in "${missing[@]}"; do
  component_args "$c"
  # Own session and process group, so a Ctrl-C in this shell does not reach it and stop.sh can end
  # the daemon with its executors; fd 9 (the lock) is closed for it.
  setsid "$SC_SPARK_CLASS" "${args[@]}" >>"$SC_LOG_DIR/$c.log" 2>&1 </dev/null 9>&- &
  echo $! >"$SC_PID_DIR/$c.pid"
  echo "spark-cluster: $c starting (pid $!, ports $(component_ports "$c"), log $SC_LOG_DIR/$c.log)"
done

deadline=$((SECONDS + start_timeout))
until (($(sc_alive_workers) == SC_WORKERS)); do
  for c in "${components[@]}"; do
    # Alive is enough here: every pid file names a process found running above or started just now,
    # and sc_pid's command-line check can miss one that is still exec'ing (bash -> java); a start on
    # a loaded CI machine once failed that way with an empty worker log.
    if ! pid_alive "$(<"$SC_PID_DIR/$c.pid")"; then
      echo "spark-cluster: $c exited during start-up; last lines of $SC_LOG_DIR/$c.log:" >&2
      tail -n 20 "$SC_LOG_DIR/$c.log" >&2
      exec 9>&- # release the lock for stop.sh
      "$here/stop.sh" >&2
      exit 1
    fi
  done
  if ((SECONDS >= deadline)); then
    echo "spark-cluster: $(sc_alive_workers) of $SC_WORKERS workers ALIVE after ${start_timeout}s; stopping" >&2
    for c in "${components[@]}"; do
      echo "--- last lines of $SC_LOG_DIR/$c.log" >&2
      tail -n 10 "$SC_LOG_DIR/$c.log" >&2
    done
    exec 9>&-
    "$here/stop.sh" >&2
    exit 1
  fi
  sleep 0.5
done
echo "spark-cluster: ready in $(elapsed "$started")s at $SC_MASTER_URL ($SC_WORKERS workers x" \
  "$worker_cores cores, $worker_memory; UI $SC_MASTER_UI_URL)"
