# shellcheck shell=bash
# Environment of the local (loopback-only) Airflow: source it, then run `airflow ...`.
#   source infra/airflow/env.sh && airflow dags list
# start.sh / stop.sh / airflow.sh source it themselves. Everything below can be overridden:
#
#   GOVLAKE_AIRFLOW_HOME          AIRFLOW_HOME (metadata DB, logs, pids)   <repo>/.run/airflow
#   GOVLAKE_AIRFLOW_PORT          api-server (UI + REST API v2) port       28080
#   GOVLAKE_AIRFLOW_TRIGGERER     1 to also run a triggerer (no govlake task defers yet)   0
#   GOVLAKE_AIRFLOW_SPARK_SLOTS   slots of the `spark` pool (concurrent Spark tasks)       1
#   GOVLAKE_AIRFLOW_PARALLELISM   LocalExecutor task slots                                 4
#   GOVLAKE_AIRFLOW_USERS         SimpleAuthManager users, user:role,...                   admin:admin
#   GOVLAKE_AIRFLOW_PASSWORD_<USER>  password of <USER> (upper case); unset: generated once and
#                                 kept in $AIRFLOW_HOME/passwords.json (mode 600)
#   GOVLAKE_AIRFLOW_ALL_ADMINS    1: no login at all, everyone is admin (local dev only)   0
#   GOVLAKE_AIRFLOW_PAUSED_AT_CREATION  new DAGs start paused                              1
#   GOVLAKE_AIRFLOW_START_TIMEOUT seconds start.sh waits for health                        240
#
# GOVLAKE_STORAGE_ROOT, GOVLAKE_REGISTRY etc. are passed through to the tasks unchanged.

_govlake_airflow_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
GOVLAKE_REPO="$(cd "$_govlake_airflow_dir/../.." && pwd)"
export GOVLAKE_REPO
export PATH="$GOVLAKE_REPO/.venv/bin:$PATH"

export AIRFLOW_HOME="${GOVLAKE_AIRFLOW_HOME:-$GOVLAKE_REPO/.run/airflow}"
GOVLAKE_AIRFLOW_PORT="${GOVLAKE_AIRFLOW_PORT:-28080}"
GOVLAKE_AIRFLOW_URL="http://127.0.0.1:${GOVLAKE_AIRFLOW_PORT}"
export GOVLAKE_AIRFLOW_PORT GOVLAKE_AIRFLOW_URL

# -- where things are
export AIRFLOW__CORE__DAGS_FOLDER="$GOVLAKE_REPO/dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="sqlite:///$AIRFLOW_HOME/airflow.db"
export AIRFLOW__LOGGING__BASE_LOG_FOLDER="$AIRFLOW_HOME/logs"
export AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_STORAGE_PATH="$AIRFLOW_HOME/bundles"

# -- execution: LocalExecutor is the executor Airflow 3 runs on SQLite (SequentialExecutor is gone);
#    SQLite allows one writer, which the scheduler, dag-processor and api-server share.
export AIRFLOW__CORE__EXECUTOR=LocalExecutor
export AIRFLOW__CORE__PARALLELISM="${GOVLAKE_AIRFLOW_PARALLELISM:-4}"
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="$([[ ${GOVLAKE_AIRFLOW_PAUSED_AT_CREATION:-1} == 1 ]] && echo True || echo False)"
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="${AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL:-30}"
export AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES="${AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES:-1}"

# -- network: loopback only
export AIRFLOW__API__HOST=127.0.0.1
export AIRFLOW__API__PORT="$GOVLAKE_AIRFLOW_PORT"
export AIRFLOW__API__BASE_URL="$GOVLAKE_AIRFLOW_URL"
export AIRFLOW__API__WORKERS=1
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="$GOVLAKE_AIRFLOW_URL/execution/"
# start.sh runs scheduler and triggerer with --skip-serve-logs: their log servers would listen on
# every interface, and the api-server reads task logs straight from the shared log folder anyway.

# -- users: SimpleAuthManager with an explicit user list; start.sh writes the passwords file
export AIRFLOW__CORE__AUTH_MANAGER=airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="${GOVLAKE_AIRFLOW_USERS:-admin:admin}"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$AIRFLOW_HOME/passwords.json"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="$([[ ${GOVLAKE_AIRFLOW_ALL_ADMINS:-0} == 1 ]] && echo True || echo False)"

# -- secrets shared by every component (JWT signing, session cookies, Fernet): generated once
mkdir -p "$AIRFLOW_HOME"
if [[ ! -s "$AIRFLOW_HOME/secrets.env" ]]; then
  (
    umask 077
    python3 - >"$AIRFLOW_HOME/secrets.env.tmp" <<'PY'
import base64, os, secrets
print(f"export AIRFLOW__API_AUTH__JWT_SECRET={secrets.token_urlsafe(48)}")
print(f"export AIRFLOW__API__SECRET_KEY={secrets.token_urlsafe(32)}")
print(f"export AIRFLOW__CORE__FERNET_KEY={base64.urlsafe_b64encode(os.urandom(32)).decode()}")
PY
    mv "$AIRFLOW_HOME/secrets.env.tmp" "$AIRFLOW_HOME/secrets.env"
  )
fi
# shellcheck disable=SC1091
source "$AIRFLOW_HOME/secrets.env"
unset _govlake_airflow_dir
