#!/usr/bin/env bash
# Stop the local SeaweedFS started by start.sh: SIGTERM, wait for its graceful shutdown (about
# 15 s: the filer's gRPC server waits that long for its own metadata subscription), then SIGKILL.
# Idempotent: stopping a stopped instance is fine. Data stays in the run folder; delete that
# folder (or `make clean`) to start empty.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"

stop_timeout="${GOVLAKE_OBJECTSTORE_STOP_TIMEOUT:-40}"
if [[ ! -d $OS_DIR ]]; then
  echo "objectstore: '$OS_NAME' is not running"
  exit 0
fi
os_lock

cleanup() {  # what a stopped weed may leave in its run folder
  # The identities file holds the secret and is rewritten by every start: do not leave it lying.
  rm -f "$OS_PIDFILE" "$OS_CONFIG" "$OS_DIR/filer.sock" "$OS_DIR/s3.sock"
}

remove_grpc_sockets() {  # after our weed exited: the sockets it left in /tmp, by its own ports
  local port sock
  # gRPC also listens on /tmp/seaweedfs-<service>-grpc-<port>.sock (not configurable in 4.48).
  for port in "$OS_S3_GRPC_PORT" "$OS_MASTER_GRPC_PORT" "$OS_VOLUME_GRPC_PORT" "$OS_FILER_GRPC_PORT"; do
    for sock in /tmp/seaweedfs-{s3,master,volume,filer}-grpc-"$port".sock; do
      if [[ -S $sock && -O $sock ]]; then rm -f "$sock"; fi
    done
  done
}

if ! pid="$(os_pid)"; then
  echo "objectstore: '$OS_NAME' is not running"
  cleanup
  exit 0
fi

started=$EPOCHREALTIME
echo "objectstore: stopping '$OS_NAME' (pid $pid)"
kill -TERM "$pid" 2>/dev/null || true
deadline=$((SECONDS + stop_timeout))
while pid_alive "$pid" && ((SECONDS < deadline)); do sleep 0.25; done
if pid_alive "$pid"; then
  echo "objectstore: still running after ${stop_timeout}s; killing pid $pid" >&2
  kill -KILL "$pid" 2>/dev/null || true
  while pid_alive "$pid"; do sleep 0.1; done
fi
cleanup
remove_grpc_sockets
echo "objectstore: '$OS_NAME' stopped in $(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')s"
