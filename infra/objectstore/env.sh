# shellcheck shell=bash
# Settings of one local SeaweedFS object store (S3 API on loopback), sourced by start.sh, stop.sh
# and status.sh. Everything can be overridden from the environment:
#
#   GOVLAKE_OBJECTSTORE_NAME           instance name (several can run side by side)     default
#   GOVLAKE_OBJECTSTORE_DIR            run folder: data, log, pid, generated config     <repo>/.run/objectstore/<name>
#   GOVLAKE_OBJECTSTORE_BASE_PORT      first of the 8 consecutive ports it listens on   8333
#                                      (base = S3, so the default matches GOVLAKE_S3_ENDPOINT)
#   GOVLAKE_OBJECTSTORE_BUCKETS        buckets created at start (comma/space separated) govlake
#   GOVLAKE_OBJECTSTORE_START_TIMEOUT  seconds start.sh waits for S3 to answer         60
#   GOVLAKE_OBJECTSTORE_STOP_TIMEOUT   seconds stop.sh waits after SIGTERM, then kills 40
#   GOVLAKE_OBJECTSTORE_VOLUME_MB      size limit of one SeaweedFS volume, in MB        1024
#   GOVLAKE_OBJECTSTORE_WEED           the weed binary                                  <repo>/.venv/bin/weed
#   GOVLAKE_S3_REGION                  region used to sign requests                     us-east-1
#   AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY   the one identity the S3 API accepts (start.sh
#                                      refuses to run without them: the store is never open)
#
# Port layout (base = B): B S3 API, B+1 S3 gRPC, B+2 master, B+3 master gRPC, B+4 volume,
# B+5 volume gRPC, B+6 filer, B+7 filer gRPC. Give two instances bases at least 8 apart.

_govlake_os_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
GOVLAKE_REPO="$(cd "$_govlake_os_dir/../.." && pwd)"
OS_TEMPLATE="$_govlake_os_dir/s3-identities.json.template"
unset _govlake_os_dir
# shellcheck source=../lib/pids.sh
source "$GOVLAKE_REPO/infra/lib/pids.sh"

OS_NAME="${GOVLAKE_OBJECTSTORE_NAME:-default}"
[[ $OS_NAME =~ ^[A-Za-z0-9._-]+$ ]] || {
  echo "objectstore: GOVLAKE_OBJECTSTORE_NAME=$OS_NAME: use letters, digits, . _ -" >&2
  exit 2
}
OS_DIR="${GOVLAKE_OBJECTSTORE_DIR:-$GOVLAKE_REPO/.run/objectstore/$OS_NAME}"
OS_DATA="$OS_DIR/data"
OS_LOG="$OS_DIR/weed.log"
OS_PIDFILE="$OS_DIR/weed.pid"
OS_CONFIG="$OS_DIR/s3-identities.json"  # generated, mode 600, holds the secret
OS_STATE="$OS_DIR/instance.env"          # ports and endpoint of the running instance (no secret)
OS_REGION="${GOVLAKE_S3_REGION:-us-east-1}"
OS_WEED="${GOVLAKE_OBJECTSTORE_WEED:-$GOVLAKE_REPO/.venv/bin/weed}"

os_ports() {  # base -> sets OS_BASE_PORT and the eight OS_*_PORT variables
  OS_BASE_PORT="$1"
  [[ $OS_BASE_PORT =~ ^[0-9]+$ ]] && ((OS_BASE_PORT >= 1024 && OS_BASE_PORT + 7 <= 65535)) || {
    echo "objectstore: base port $OS_BASE_PORT must be in 1024..65528" >&2
    exit 2
  }
  OS_S3_PORT=$((OS_BASE_PORT)) OS_S3_GRPC_PORT=$((OS_BASE_PORT + 1))
  OS_MASTER_PORT=$((OS_BASE_PORT + 2)) OS_MASTER_GRPC_PORT=$((OS_BASE_PORT + 3))
  OS_VOLUME_PORT=$((OS_BASE_PORT + 4)) OS_VOLUME_GRPC_PORT=$((OS_BASE_PORT + 5))
  OS_FILER_PORT=$((OS_BASE_PORT + 6)) OS_FILER_GRPC_PORT=$((OS_BASE_PORT + 7))
  OS_ENDPOINT="http://127.0.0.1:$OS_S3_PORT"
}

os_pid() {  # prints the pid of this instance's weed if it is running, else fails
  # A recycled pid is not ours: the command line must name this instance's data folder.
  pid_from_file "$OS_PIDFILE" "-dir=$OS_DATA "
}

os_healthy() {  # does the S3 API answer?
  [[ $(curl -s -o /dev/null -m 2 -w '%{http_code}' "$OS_ENDPOINT/healthz" 2>/dev/null) == 200 ]]
}

os_lock() {  # one start/stop at a time per instance
  (umask 077 && mkdir -p "$OS_DIR")
  exec 9>"$OS_DIR/lock"
  flock 9
}

# A running instance keeps the ports it was started with (from its state file), so stop.sh and
# status.sh need no base port; otherwise the environment decides.
if os_pid >/dev/null && [[ -s $OS_STATE ]]; then
  os_ports "$(sed -n 's/^OS_BASE_PORT=//p' "$OS_STATE")"
else
  os_ports "${GOVLAKE_OBJECTSTORE_BASE_PORT:-8333}"
fi
