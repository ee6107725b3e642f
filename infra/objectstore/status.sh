#!/usr/bin/env bash
# Is the local SeaweedFS running, and does its S3 API answer?
# Exit status: 0 running and healthy, 1 not running, 2 running but S3 does not answer.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"

if ! pid="$(os_pid)"; then
  echo "objectstore: '$OS_NAME' is not running"
  exit 1
fi
if os_healthy; then
  echo "objectstore: '$OS_NAME' running (pid $pid) at $OS_ENDPOINT, healthy; data $OS_DATA"
else
  echo "objectstore: '$OS_NAME' running (pid $pid) but $OS_ENDPOINT/healthz does not answer 200; see $OS_LOG"
  exit 2
fi
