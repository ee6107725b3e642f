"""Every pipeline DAG, generated from the pipeline graph (``jobs/pipeline/graph.py``).

``ingest__<source_id>`` for each source in ``registry/sources.yaml``, ``silver__<library>`` for each
base library, ``quality__scorecard``: add a source to the registry (or a step to the graph) and its
DAG appears; there are no DAG files per source. ``govlake graph`` prints the same graph.
See ``govlake_dags/pipeline.py`` for the shape of each DAG.
"""

from __future__ import annotations

from airflow.sdk import get_parsing_context
from govlake_dags.pipeline import build_all

# A task runner only needs its own DAG: skip building the others.
globals().update(build_all(get_parsing_context().dag_id))
