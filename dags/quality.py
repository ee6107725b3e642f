"""The quality officers' scorecard DAG: ``quality__scorecard``.

Scores the lake (GB/T 36344 indicators per prefecture x department) whenever a base library is
published, and renders the scorecard page and PNG in the quality zone.
See ``govlake_dags/quality.py``.
"""

from __future__ import annotations

from airflow.sdk import get_parsing_context
from govlake_dags.quality import build_all

globals().update(build_all(get_parsing_context().dag_id))
