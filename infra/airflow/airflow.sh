#!/usr/bin/env bash
# Run the airflow CLI against the local instance: infra/airflow/airflow.sh dags list
set -euo pipefail
# shellcheck disable=SC1091
source "$(dirname "$0")/env.sh"
exec airflow "$@"
