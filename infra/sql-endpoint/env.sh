# shellcheck shell=bash
# Settings of the local SQL endpoint, sourced by start.sh, stop.sh and status.sh. Three parts, all on
# 127.0.0.1, each its own process, with state, logs, pids and secrets in one folder (git-ignored):
#
#   metastore  PostgreSQL (Debian's package, a cluster of its own in <dir>/postgres) holding the
#              shared Hive metastore: the Thrift server, the Connect server, dbt and the pipeline's
#              steps all see the same table and view names at once (an embedded Derby admits one
#              process). Skipped when GOVLAKE_METASTORE_URL names another database (then
#              GOVLAKE_METASTORE_USER / GOVLAKE_METASTORE_PASSWORD must be set too).
#   thrift     Spark's Thrift server (HiveServer2 protocol: beeline, JDBC/ODBC, dbt's thrift target),
#              logins checked against a password file of PBKDF2 hashes (`govlake sql user add`).
#   connect    a Spark Connect server (Python clients, notebooks), one bearer token.
#
# Both servers are `spark-submit --class <server>` from the pip pyspark package (it has no
# sbin/start-thriftserver.sh), with the Spark settings `govlake sql conf` prints: the jobs' own
# (jars, Delta, S3) plus the shared metastore. Everything can be overridden from the environment:
#
#   GOVLAKE_SQL_ENDPOINT_DIR            state folder                                 <repo>/.run/sql-endpoint
#   GOVLAKE_METASTORE_PORT              the local Postgres port                      15432
#   GOVLAKE_THRIFT_PORT                 the Thrift server's port                     10000
#   GOVLAKE_CONNECT_PORT                the Spark Connect server's port              15002
#   GOVLAKE_CONNECT_TOKEN               the Connect token (default: generated once into secrets/)
#   GOVLAKE_SQL_ENDPOINT_MEMORY         heap of each server's driver (local master) 2g
#   GOVLAKE_SQL_ENDPOINT_START_TIMEOUT  seconds start.sh waits for everything         300
#   GOVLAKE_SQL_ENDPOINT_STOP_TIMEOUT   seconds stop.sh waits per server, then kills  60
#   GOVLAKE_POSTGRES_BIN                Postgres binaries                            newest /usr/lib/postgresql/*/bin
#   GOVLAKE_STORAGE_ROOT, GOVLAKE_SPARK_MASTER, ...  the lake the servers read (govlake/config.py)
#
# Folder layout: postgres/{data,socket,log} (owned by the `postgres` account when run as root:
# Postgres refuses to run as root), secrets/ (0700: metastore.password, connect.token,
# <user>.password), thrift-users (hashes), conf/ (the servers' properties files, package.jdo), logs/,
# pids/, metastore-schema (the metastore URL whose schema start.sh created),
# instance.env (ports of the running endpoint), client.env (0600: what a client exports).

_govlake_se_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
GOVLAKE_REPO="$(cd "$_govlake_se_dir/../.." && pwd)"
unset _govlake_se_dir
# shellcheck source=../lib/pids.sh
source "$GOVLAKE_REPO/infra/lib/pids.sh"

SE_DIR="${GOVLAKE_SQL_ENDPOINT_DIR:-$GOVLAKE_REPO/.run/sql-endpoint}"
mkdir -p "$SE_DIR"
SE_DIR="$(cd "$SE_DIR" && pwd)"
export GOVLAKE_SQL_ENDPOINT_DIR="$SE_DIR" # the Python side (govlake sql ...) reads the same folder
SE_CONF_DIR="$SE_DIR/conf"
SE_LOG_DIR="$SE_DIR/logs"
SE_PID_DIR="$SE_DIR/pids"
SE_SECRETS="$SE_DIR/secrets"
SE_USERS="$SE_DIR/thrift-users"
SE_STATE="$SE_DIR/instance.env"
SE_CLIENT_ENV="$SE_DIR/client.env"
SE_PG_DIR="$SE_DIR/postgres"
SE_PG_DATA="$SE_PG_DIR/data"
SE_PG_SOCKET="$SE_PG_DIR/socket"
SE_PG_LOG="$SE_PG_DIR/log/postgres.log"
SE_PG_READY="$SE_DIR/metastore-schema" # the metastore URL whose schema start.sh created

SE_PYTHON="$GOVLAKE_REPO/.venv/bin/python"
SE_GOVLAKE="$GOVLAKE_REPO/.venv/bin/govlake"
SE_SPARK_SUBMIT="$GOVLAKE_REPO/.venv/bin/spark-submit"
export SPARK_HOME="${SPARK_HOME:-$(echo "$GOVLAKE_REPO"/.venv/lib/python3*/site-packages/pyspark)}"
export SPARK_LOCAL_IP=127.0.0.1
export PYSPARK_PYTHON="${PYSPARK_PYTHON:-$SE_PYTHON}"

SE_METASTORE_DB=metastore
SE_METASTORE_USER=govlake_metastore
SE_START_TIMEOUT="${GOVLAKE_SQL_ENDPOINT_START_TIMEOUT:-300}"
SE_STOP_TIMEOUT="${GOVLAKE_SQL_ENDPOINT_STOP_TIMEOUT:-60}"
SE_MEMORY="${GOVLAKE_SQL_ENDPOINT_MEMORY:-2g}"

se_pg_bin() { # the Postgres binaries folder
  if [[ -n ${GOVLAKE_POSTGRES_BIN:-} ]]; then
    echo "$GOVLAKE_POSTGRES_BIN"
  else
    find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1
  fi
}

se_as_pg() { # command... -> run it as the account that owns the Postgres cluster
  if [[ $(id -u) == 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

se_external_metastore() { # is the metastore someone else's (GOVLAKE_METASTORE_URL not ours)?
  [[ -n ${GOVLAKE_METASTORE_URL:-} && ${GOVLAKE_METASTORE_URL} != "jdbc:postgresql://127.0.0.1:$SE_PG_PORT/$SE_METASTORE_DB" ]]
}

se_pid() { # server (thrift|connect) -> its pid if it runs, else fails
  pid_from_file "$SE_PID_DIR/$1.pid" "$SE_CONF_DIR/$1.properties"
}

se_pg_running() { # is our Postgres cluster running?
  [[ -f $SE_PG_DATA/postmaster.pid ]] && se_as_pg "$(se_pg_bin)/pg_ctl" -D "$SE_PG_DATA" status >/dev/null 2>&1
}

se_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

se_lock() { # one start/stop at a time per endpoint folder
  exec 9>"$SE_DIR/lock"
  flock 9
}

# A running endpoint keeps the ports it was started with (instance.env); otherwise the environment
# decides.
if [[ -s $SE_STATE ]] && { se_pid thrift >/dev/null || se_pid connect >/dev/null || se_pg_running; }; then
  SE_PG_PORT="$(sed -n 's/^SE_METASTORE_PORT=//p' "$SE_STATE")"
  SE_THRIFT_PORT="$(sed -n 's/^SE_THRIFT_PORT=//p' "$SE_STATE")"
  SE_CONNECT_PORT="$(sed -n 's/^SE_CONNECT_PORT=//p' "$SE_STATE")"
fi
SE_PG_PORT="${SE_PG_PORT:-${GOVLAKE_METASTORE_PORT:-15432}}"
SE_THRIFT_PORT="${SE_THRIFT_PORT:-${GOVLAKE_THRIFT_PORT:-10000}}"
SE_CONNECT_PORT="${SE_CONNECT_PORT:-${GOVLAKE_CONNECT_PORT:-15002}}"
