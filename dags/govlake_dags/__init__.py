"""Shared building blocks for govlake's DAG files (no DAGs are defined in this package).

The dags folder is on ``sys.path`` for the dag-processor and task runners, so DAG files import
``govlake_dags.*``. Nothing here imports Spark, pandas or Great Expectations: DAG parsing stays cheap.
"""
