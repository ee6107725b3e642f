"""Helpers for tests that build libraries on hand-made inputs (import: ``from lakehelpers import ...``)."""

from __future__ import annotations

from typing import Any


def publish_latest(lake: Any, *table_ids: str) -> None:
    """Publish the newest version of tables a test wrote itself, without validating them.

    For unit tests of a build that need hand-made inputs in service; the gate's own tests publish
    through the gate.
    """
    from datetime import UTC, datetime

    from govlake.lake import Publication

    now = datetime.now(UTC)
    lake.publish(
        Publication(t, lake.path(t), lake.latest_version(t), "test", "test", now, now, "written by a test")
        for t in table_ids
    )


def run_build(lake: Any, step_name: str) -> dict[str, Any]:
    """Run one build step of the graph on ``lake`` as the pipeline does (pinned published inputs)."""
    from govlake.registry import load_registry
    from jobs.pipeline.graph import pipeline_graph
    from jobs.pipeline.run import build

    step = pipeline_graph(load_registry(lake.settings.registry_path)).step(step_name)
    return build(step, lake)["counts"]
