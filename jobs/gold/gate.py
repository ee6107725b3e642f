"""The gold.marts gate: the marts are published only if their whole ``dbt build`` passed.

The build phase (:func:`jobs.gold.marts.build_marts`) ran ``dbt build``: every model, then the YAML
data tests (unique, not_null, relationships, accepted_values, the project's own) and the dbt unit
tests, on exactly the Delta versions it wrote. This gate reads that verdict from what the build
returned (plain JSON, so it can run in an Airflow task of its own) and:

* records one validation per mart in ``quality.validations`` (suite ``dbt``; each test attached to
  the mart or anything it is built from is one expectation), passed or failed;
* publishes every mart's new version in one ``share.publications`` commit only if every model and
  every test succeeded and each mart is still at the version dbt left it at; the dbt docs page of
  that build is then served;
* otherwise publishes nothing and raises :class:`jobs.quality.gate.QualityGateFailed`: readers keep
  the previously published gold versions, whatever dbt already wrote.

A mart whose newest version is already the published one, from the same inputs, is reported
unchanged, as the other gates do; built from newer inputs (an incremental run that merged nothing),
it is published again with them as lineage, so that the step is up to date afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from govlake.lake import Lake
from jobs.quality.gate import GateResult, settle
from jobs.quality.gx_runner import ExpectationOutcome, ValidationOutcome
from jobs.quality.silver import Severity

SUITE = "dbt"


def _expectation(node: Mapping[str, Any]) -> ExpectationOutcome:
    ok = node["status"] in ("pass", "success")
    return ExpectationOutcome(
        expectation_type=f"dbt_{node['resource_type']}",
        kwargs={"test": node["name"], "unique_id": node["unique_id"]},
        success=ok,
        unexpected_count=node.get("failures") if not ok else 0,
        error=None if ok else f"{node['status']}: {node.get('message') or ''}".strip(),
        severity=Severity.FAIL,
    )


def _model_expectation(table_id: str, node: Mapping[str, Any] | None) -> ExpectationOutcome:
    """The model itself must have been built (an error or a skip blocks like a failed test)."""
    status = node["status"] if node else "not run"
    ok = status == "success"
    return ExpectationOutcome(
        expectation_type="dbt_model_built",
        kwargs={"model": table_id.split(".")[-1]},
        success=ok,
        error=None if ok else f"{status}: {(node or {}).get('message') or ''}".strip(),
        severity=Severity.FAIL,
    )


def gate_marts(lake: Lake, step: str, tables: tuple[str, ...], built: Mapping[str, Any]) -> GateResult:
    """Publish the marts ``built`` wrote if its dbt build passed; else record why and raise."""
    from jobs.gold.marts import promote_docs

    started = time.perf_counter()
    counts = built.get("counts") or {}
    if "skipped" in counts or "dbt" not in counts:
        return GateResult(step, (), (), tuple(tables), (), time.perf_counter() - started)
    nodes = {n["unique_id"]: n for n in counts["nodes"]}
    run_id = str(built.get("run_id") or "")
    in_force = lake.publications()
    inputs = built.get("inputs") or {}  # the pinned silver versions this build read
    now = datetime.now(UTC)
    outcomes: list[ValidationOutcome] = []
    already: list[str] = []
    absent: list[str] = []
    for table_id in tables:
        version = lake.latest_version(table_id)
        written = counts["versions"].get(table_id)
        if version is None:
            absent.append(table_id)
            continue
        model = nodes.get(f"model.govlake.{table_id.split('.')[-1]}")
        expectations = [_model_expectation(table_id, model)]
        expectations += [_expectation(nodes[t]) for t in counts["tests_of"].get(table_id, []) if t in nodes]
        if version != written:  # someone wrote after dbt: that version was never tested
            expectations.append(
                ExpectationOutcome(
                    "dbt_version_unchanged_since_build",
                    {"built": written, "found": version},
                    False,
                    error=f"dbt left Delta v{written}, the table is at v{version}",
                )
            )
        outcome = ValidationOutcome(
            run_id=f"{run_id}:{table_id}",
            success=all(e.success for e in expectations),
            table=table_id,
            suite=SUITE,
            delta_version=version,
            table_path=lake.path(table_id),
            validated_at=now,
            duration_seconds=float(counts["dbt"].get("seconds") or 0.0),
            row_count=None,
            expectations=tuple(expectations),
        )
        if outcome.passed and table_id in in_force and in_force[table_id].covers(version, inputs):
            already.append(table_id)
        else:
            outcomes.append(outcome)
    if counts["dbt"]["passed"] is False and all(o.passed for o in outcomes):
        # a failure outside any mart's lineage (e.g. a source test) still stops the whole build
        failed_nodes = [n for n in nodes.values() if n["status"] not in ("pass", "success")]
        outcomes.append(
            ValidationOutcome(
                run_id=f"{run_id}:dbt",
                success=False,
                table="gold.marts",
                suite=SUITE,
                delta_version=None,
                table_path=None,
                validated_at=now,
                duration_seconds=0.0,
                row_count=None,
                expectations=tuple(_expectation(n) for n in failed_nodes),
            )
        )
    published = settle(lake, outcomes, inputs)
    if published or already:
        promote_docs(lake)
    return GateResult(
        step=step,
        published=tuple(published),
        already_published=tuple(already),
        absent=tuple(absent),
        outcomes=tuple(outcomes),
        seconds=time.perf_counter() - started,
    )
