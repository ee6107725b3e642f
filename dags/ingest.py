"""Ingestion DAGs, generated: one ``ingest__<source_id>`` per source in ``registry/sources.yaml``.

Nothing is written per source or per prefecture: add a source to the registry and its DAG appears
(the registry path comes from ``$GOVLAKE_REGISTRY``, default ``registry/sources.yaml``).
See ``govlake_dags/ingest.py`` for the DAG shape.
"""

from __future__ import annotations

from airflow.sdk import get_parsing_context
from govlake_dags.ingest import build_all

# A task runner only needs its own DAG: skip building the others.
globals().update(build_all(get_parsing_context().dag_id))
