"""``platform__smoke``: proves Airflow -> Spark -> Delta works on the configured storage.

Unscheduled; trigger it after a deployment or configuration change. It writes, merges, reads back
and time-travels a tiny Delta table in the bronze zone (``jobs.smoke.run_smoke``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import dag, task
from govlake_dags.common import SPARK_POOL, START_DATE, default_args


@dag(
    dag_id="platform__smoke",
    description="Spark + Delta smoke test on the configured lake",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=default_args() | {"retries": 0},
    tags=["platform", "smoke"],
    doc_md=__doc__,
)
def platform_smoke() -> None:
    @task(
        task_id="run_smoke",
        pool=SPARK_POOL,
        execution_timeout=timedelta(minutes=15),
        multiple_outputs=False,  # one XCom with the whole result
    )
    def run_smoke() -> dict[str, Any]:
        """Write, merge, read back and time-travel a small Delta table; return what was observed."""
        from govlake.config import load_settings
        from govlake.lake import Lake
        from jobs.smoke import run_smoke as smoke

        result = smoke(Lake(load_settings()))
        if (result["rows_now"], result["rows_at_first_version"]) != (3, 2):
            raise ValueError(f"unexpected smoke result: {result}")
        return result

    run_smoke()


platform_smoke()
