#!/usr/bin/env bash
# Is the local SQL endpoint running? One line per part.
# Exit status: 0 all three running and listening, 1 none running, 2 partly running.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"

up=0
if se_external_metastore; then
  echo "metastore: external ($GOVLAKE_METASTORE_URL)"
  up=$((up + 1))
elif [[ -d $SE_PG_DATA ]] && se_pg_running; then
  echo "metastore: Postgres running on 127.0.0.1:$SE_PG_PORT (data $SE_PG_DATA)"
  up=$((up + 1))
else
  echo "metastore: not running"
fi
for part in "thrift $SE_THRIFT_PORT jdbc:hive2://127.0.0.1:$SE_THRIFT_PORT" "connect $SE_CONNECT_PORT sc://localhost:$SE_CONNECT_PORT"; do
  read -r name port url <<<"$part"
  if pid="$(se_pid "$name")"; then
    if se_port_open "$port"; then
      echo "$name: running (pid $pid) at $url"
      up=$((up + 1))
    else
      echo "$name: starting or stuck (pid $pid, $url not listening; log $SE_LOG_DIR/$name.log)"
    fi
  else
    echo "$name: not running"
  fi
done
((up == 3)) && exit 0
((up == 0)) && exit 1
exit 2
