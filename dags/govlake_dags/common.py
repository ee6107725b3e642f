"""Defaults every govlake DAG shares: pool, retries, failure logging, assets, time zone."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pendulum

log = logging.getLogger("govlake.airflow")

#: Province time: registry cron expressions are read in this zone.
TIMEZONE = "Asia/Shanghai"
#: A fixed, past start date; with catchup off it only bounds the first scheduled run.
START_DATE = pendulum.datetime(2026, 1, 1, tz=TIMEZONE)

#: Pool that bounds concurrent Spark work (each task starts its own local Spark JVM).
#: infra/airflow/start.sh creates it with $GOVLAKE_AIRFLOW_SPARK_SLOTS slots (default 1).
SPARK_POOL = "spark"

RETRIES = 2
RETRY_DELAY = timedelta(minutes=1)
RETRY_BACKOFF = 2.0  # 1 min, 2 min, ... capped at MAX_RETRY_DELAY
MAX_RETRY_DELAY = timedelta(minutes=30)


def log_task_failure(source_id: str | None = None) -> Callable[[dict[str, Any]], None]:
    """An ``on_failure_callback`` that logs which task failed, for which source, and why."""

    def _log_failure(context: dict[str, Any]) -> None:
        ti = context.get("ti") or context.get("task_instance")
        exc = context.get("exception")
        dag_id = getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", "?")
        task_id = getattr(ti, "task_id", "?")
        map_index = getattr(ti, "map_index", -1)
        run_id = getattr(ti, "run_id", None) or context.get("run_id", "?")
        where = f"{task_id}[{map_index}]" if map_index is not None and map_index >= 0 else task_id
        log.error(
            "govlake task failed: dag=%s task=%s run=%s try=%s source=%s error=%s: %s",
            dag_id,
            where,
            run_id,
            getattr(ti, "try_number", "?"),
            source_id or "-",
            type(exc).__name__ if exc is not None else "unknown",
            exc,
            exc_info=exc if isinstance(exc, BaseException) else None,
        )

    return _log_failure


def default_args(source_id: str | None = None, owner: str = "govlake") -> dict[str, Any]:
    """Task defaults: retries with exponential backoff and a failure log line."""
    return {
        "owner": owner,
        "retries": RETRIES,
        "retry_delay": RETRY_DELAY,
        "retry_exponential_backoff": RETRY_BACKOFF,
        "max_retry_delay": MAX_RETRY_DELAY,
        "on_failure_callback": log_task_failure(source_id),
    }
