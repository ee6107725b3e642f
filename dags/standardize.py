"""Standardization DAGs: ``silver__population``, ``silver__legal_persons``, ``silver__geography``.

Each rebuilds one base library when any of its input assets is updated (bronze tables published by
the ``ingest__*`` DAGs, and upstream silver libraries), then publishes ``silver.<library>``.
See ``govlake_dags/standardize.py`` for the inputs and the DAG shape.
"""

from __future__ import annotations

from airflow.sdk import get_parsing_context
from govlake_dags.standardize import build_all

# A task runner only needs its own DAG: skip building the others.
globals().update(build_all(get_parsing_context().dag_id))
