#!/usr/bin/env bash
# Is the local Spark standalone cluster running, and does its master report every worker ALIVE
# (from the master's JSON at <UI>/json/)?
# Exit status: 0 running and healthy, 1 not running, 2 running but not healthy.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"

running=() down=()
while read -r c; do
  if pid="$(sc_pid "$c")"; then running+=("$c:$pid"); else down+=("$c"); fi
done < <(sc_components)

if ((${#running[@]} == 0)); then
  echo "spark-cluster: not running"
  exit 1
fi
alive="$(sc_alive_workers)"
if ((${#down[@]} == 0)) && ((alive == SC_WORKERS)); then
  echo "spark-cluster: running at $SC_MASTER_URL, $alive of $SC_WORKERS workers ALIVE (${running[*]}); UI $SC_MASTER_UI_URL"
  exit 0
fi
echo "spark-cluster: unhealthy: $alive of $SC_WORKERS workers ALIVE at $SC_MASTER_UI_URL/json/;" \
  "running: ${running[*]}; not running: ${down[*]:-none}; logs in $SC_LOG_DIR"
exit 2
