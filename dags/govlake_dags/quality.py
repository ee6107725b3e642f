"""The scorecard DAG: ``quality__scorecard``, run when any base library publishes a new version.

    score (pool ``spark``: indicators -> ``quality/scorecard/history`` -> HTML page + PNG)

The work lives in ``jobs.quality.scorecard``; the task only calls it.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import AssetAny, dag, task

from govlake_dags.common import SPARK_POOL, START_DATE, default_args
from govlake_dags.standardize import libraries, silver_asset

if TYPE_CHECKING:
    from airflow.sdk import DAG

log = logging.getLogger("govlake.airflow")

DAG_ID = "quality__scorecard"


def build_scorecard_dag() -> DAG:
    inputs = [silver_asset(lib.name) for lib in libraries()]

    @dag(
        dag_id=DAG_ID,
        description="GB/T 36344 data-quality scorecard per prefecture x department",
        schedule=AssetAny(*inputs),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        default_args=default_args(owner="quality"),
        tags=["quality", "scorecard"],
        doc_md=(
            "### Data-quality scorecard\n\nRuns when any of "
            + ", ".join(f"`{a.name}`" for a in inputs)
            + " is published: scores conformity, completeness, accuracy, consistency, timeliness, "
            "accessibility and uniqueness per prefecture × department, appends the run to "
            "`quality/scorecard/history` (the trend) and writes `quality/scorecard/index.html` and "
            "`scorecard.png`. `govlake quality report` prints where they are.\n\n"
            "Defined in `dags/govlake_dags/quality.py`."
        ),
    )
    def scorecard() -> None:
        @task(task_id="score", pool=SPARK_POOL, execution_timeout=timedelta(hours=1))
        def score() -> dict[str, Any]:
            """Score the lake and render the scorecard; return where it is and the province figures."""
            from airflow.sdk import get_current_context

            from jobs.quality.scorecard import build_scorecard

            # the DAG run id names the scorecard run: a retried task does not add a second run
            result = build_scorecard(run_id=str(get_current_context()["run_id"]))
            log.info("%s", result.report())
            return {"html": result.html_path, "png": result.png_path, "province": result.province}

        score()

    return scorecard()


def build_all(dag_id: str | None = None) -> dict[str, DAG]:
    return {DAG_ID: build_scorecard_dag()} if dag_id in (None, DAG_ID) else {}
