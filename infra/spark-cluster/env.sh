# shellcheck shell=bash
# Settings of one local Spark standalone cluster (a master and N workers on loopback), sourced by
# start.sh, stop.sh and status.sh. It runs from the pip pyspark package in .venv (which has
# bin/spark-class but no sbin/start-master.sh). Everything can be overridden from the environment:
#
#   GOVLAKE_SPARK_CLUSTER_DIR            run folder: conf, logs, pids, worker work dirs  <repo>/.run/spark-cluster
#   GOVLAKE_SPARK_CLUSTER_BASE_PORT      first of the 2 + 2 x workers consecutive ports  7077
#   GOVLAKE_SPARK_WORKERS                number of workers                               2
#   GOVLAKE_SPARK_WORKER_CORES           cores each worker offers to executors           1
#   GOVLAKE_SPARK_WORKER_MEMORY          memory each worker offers to executors          2g
#                                        (an executor takes spark.executor.memory, 1g by default)
#   GOVLAKE_SPARK_DAEMON_MEMORY          heap of the master and worker JVMs themselves   512m
#   GOVLAKE_SPARK_CLUSTER_START_TIMEOUT  seconds start.sh waits for all workers ALIVE    120
#   GOVLAKE_SPARK_CLUSTER_STOP_TIMEOUT   seconds stop.sh waits after SIGTERM, then kills 30
#
# Port layout (base = B): B master RPC (spark://127.0.0.1:B), B+1 master web UI (its JSON at
# /json/), then per worker i = 1..N: B+2i worker RPC, B+2i+1 worker web UI. The defaults avoid 8080
# (Spark's own master UI default, taken by other services). Executors the workers launch listen on
# ports Spark picks at random, on 127.0.0.1 too (they inherit SPARK_LOCAL_IP).
#
# A driver on this machine connects with GOVLAKE_SPARK_MASTER=spark://127.0.0.1:B; export
# SPARK_LOCAL_IP=127.0.0.1 for it as well, so the driver's own listeners stay on loopback.

_govlake_sc_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
GOVLAKE_REPO="$(cd "$_govlake_sc_dir/../.." && pwd)"
unset _govlake_sc_dir
# shellcheck source=../lib/pids.sh
source "$GOVLAKE_REPO/infra/lib/pids.sh"

SC_DIR="${GOVLAKE_SPARK_CLUSTER_DIR:-$GOVLAKE_REPO/.run/spark-cluster}"
SC_CONF_DIR="$SC_DIR/conf"
SC_LOG_DIR="$SC_DIR/logs"
SC_PID_DIR="$SC_DIR/pids"
SC_WORK_DIR="$SC_DIR/work"
SC_PROPERTIES="$SC_CONF_DIR/spark-daemons.conf"
SC_STATE="$SC_DIR/instance.env" # ports and URLs of the running cluster
SC_SPARK_CLASS="$GOVLAKE_REPO/.venv/bin/spark-class"

# The pip package is SPARK_HOME: its find-spark-home would ask the first python3 on PATH, which
# may not be the venv's. Workers also launch executors from SPARK_HOME/jars.
export SPARK_HOME="${SPARK_HOME:-$(echo "$GOVLAKE_REPO"/.venv/lib/python3*/site-packages/pyspark)}"
export SPARK_CONF_DIR="$SC_CONF_DIR"
# Every listener (RPC, web UIs; and the executors', which inherit the environment) on loopback.
export SPARK_LOCAL_IP=127.0.0.1
export SPARK_PUBLIC_DNS=127.0.0.1
export SPARK_DAEMON_MEMORY="${GOVLAKE_SPARK_DAEMON_MEMORY:-512m}"
# Executors run the project's Python workers with the interpreter the driver names
# (spark.pyspark.python); this is the fallback for anything started without it.
export PYSPARK_PYTHON="${PYSPARK_PYTHON:-$GOVLAKE_REPO/.venv/bin/python}"

sc_ports() {  # base workers -> sets SC_BASE_PORT, SC_WORKERS, the master's ports and URLs
  SC_BASE_PORT="$1" SC_WORKERS="$2"
  [[ $SC_WORKERS =~ ^[0-9]+$ ]] && ((SC_WORKERS >= 1 && SC_WORKERS <= 16)) || {
    echo "spark-cluster: GOVLAKE_SPARK_WORKERS=$SC_WORKERS must be 1..16" >&2
    exit 2
  }
  [[ $SC_BASE_PORT =~ ^[0-9]+$ ]] && ((SC_BASE_PORT >= 1024 && SC_BASE_PORT + 1 + 2 * SC_WORKERS <= 65535)) || {
    echo "spark-cluster: base port $SC_BASE_PORT out of range for $SC_WORKERS workers" >&2
    exit 2
  }
  SC_MASTER_PORT=$SC_BASE_PORT
  SC_MASTER_UI_PORT=$((SC_BASE_PORT + 1))
  SC_MASTER_URL="spark://127.0.0.1:$SC_MASTER_PORT"
  SC_MASTER_UI_URL="http://127.0.0.1:$SC_MASTER_UI_PORT"
}
sc_worker_port() { echo $((SC_BASE_PORT + 2 * $1)); }        # worker i (1-based) -> RPC port
sc_worker_ui_port() { echo $((SC_BASE_PORT + 2 * $1 + 1)); } # worker i -> web UI port
sc_components() {                                            # master worker-1 ... worker-N
  local i
  echo master
  for ((i = 1; i <= SC_WORKERS; i++)); do echo "worker-$i"; done
}

sc_pid() { # component -> its pid if it runs, else fails
  pid_from_file "$SC_PID_DIR/$1.pid" "--properties-file $SC_PROPERTIES "
}

sc_master_json() {  # the master's state as JSON, or fails
  curl -sf -m 3 "$SC_MASTER_UI_URL/json/" 2>/dev/null
}

sc_alive_workers() {  # how many of *our* workers (by RPC port) the master reports ALIVE
  local json ports i
  json="$(sc_master_json)" || {
    echo 0
    return
  }
  ports=""
  for ((i = 1; i <= SC_WORKERS; i++)); do ports+="$(sc_worker_port "$i") "; done
  python3 -c '
import json, sys
state = json.loads(sys.argv[1])
ours = {int(p) for p in sys.argv[2].split()}
alive = {w["port"] for w in state.get("workers", []) if w.get("state") == "ALIVE" and w.get("host") == "127.0.0.1"}
print(len(ours & alive) if state.get("status") == "ALIVE" else 0)
' "$json" "$ports"
}

sc_lock() {  # one start/stop at a time per cluster
  mkdir -p "$SC_DIR"
  exec 9>"$SC_DIR/lock"
  flock 9
}

sc_any_running() {  # is any component of this cluster (by its pid file) running?
  local pidfile
  for pidfile in "$SC_PID_DIR"/*.pid; do
    [[ -e $pidfile ]] && sc_pid "$(basename "$pidfile" .pid)" >/dev/null && return 0
  done
  return 1
}

# A running cluster keeps the ports and worker count it was started with (from its state file), so
# stop.sh and status.sh need neither; otherwise the environment decides.
if [[ -s $SC_STATE ]] && sc_any_running; then
  sc_ports "$(sed -n 's/^SC_BASE_PORT=//p' "$SC_STATE")" "$(sed -n 's/^SC_WORKERS=//p' "$SC_STATE")"
else
  sc_ports "${GOVLAKE_SPARK_CLUSTER_BASE_PORT:-7077}" "${GOVLAKE_SPARK_WORKERS:-2}"
fi
