#!/usr/bin/env bash
# Stop the local SQL endpoint: the Connect and Thrift servers (SIGTERM to each one's process group,
# SIGKILL after GOVLAKE_SQL_ENDPOINT_STOP_TIMEOUT seconds), then the metastore's Postgres (fast
# shutdown). Idempotent. Keeps the state (metastore, logins, token): `--purge` deletes the folder.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"
se_lock

stop_server() { # name
  local pid
  pid="$(se_pid "$1")" || { rm -f "$SE_PID_DIR/$1.pid"; return 0; }
  echo "sql-endpoint: stopping the $1 server (pid $pid)"
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  local until=$((SECONDS + SE_STOP_TIMEOUT))
  while pid_alive "$pid" || group_alive "$pid"; do
    if ((SECONDS >= until)); then
      echo "sql-endpoint: the $1 server did not stop in ${SE_STOP_TIMEOUT}s: killing it" >&2
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
      sleep 1
      break
    fi
    sleep 0.5
  done
  rm -f "$SE_PID_DIR/$1.pid"
}

stop_server connect
stop_server thrift
if [[ -d $SE_PG_DATA ]] && se_pg_running; then
  echo "sql-endpoint: stopping Postgres"
  se_as_pg "$(se_pg_bin)/pg_ctl" -D "$SE_PG_DATA" -m fast -w -t "$SE_STOP_TIMEOUT" stop >/dev/null
fi
rm -f "$SE_STATE"
if [[ ${1:-} == --purge ]]; then
  exec 9>&-
  rm -rf "$SE_DIR"
  echo "sql-endpoint: stopped, $SE_DIR deleted"
else
  echo "sql-endpoint: stopped (state kept in $SE_DIR)"
fi
