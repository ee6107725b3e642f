"""The publish gate: a table version is served only after it passed its suite.

:func:`gate_tables` validates the newest version of each table a step wrote and, only if every one
passed, appends them to ``share.publications`` in one commit (:meth:`govlake.lake.Lake.publish`).
Readers read published versions only (:mod:`govlake.lake.published`), so a failed validation leaves
the previously published versions in service. Every validation, passed or failed, is a row of
``quality.validations`` (see :mod:`jobs.quality.gx_runner`).

A table appended a landed file at a time (bronze; a records table whose suite says so) is validated
only for the rows appended since the version in force when that gives the same verdict as the whole
version (:mod:`jobs.quality.appended_slice`), and whole otherwise; the outcome's scope says which.
What is published is the whole version.

Passing means no ``fail`` or ``drop`` expectation is broken; broken ``warn`` expectations are
recorded and the version is published (:class:`jobs.quality.silver.Severity`). Reference checks
read the versions being judged for the step's own tables (they are published together) and the
versions the step was pinned to for its inputs.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from govlake.lake import Lake, Publication
from govlake.lake.catalogue import quarantine_of
from govlake.registry import load_registry
from jobs.quality.appended_slice import BRONZE_FILE_COLUMN, appended_slice, with_published_warnings
from jobs.quality.gx_runner import (
    ValidationOutcome,
    record_validations,
    validate_dataframe,
    validate_table_version,
)
from jobs.quality.silver_suites import References, silver_suite
from jobs.quality.suites import bronze_suite_of


class QualityGateFailed(RuntimeError):
    """Table versions broke fail or drop expectations and were not published.

    ``outcomes`` has every failed validation (``outcome`` the first), each with its failed
    expectations and examples.
    """

    def __init__(self, *outcomes: ValidationOutcome) -> None:
        if not outcomes:
            raise ValueError("QualityGateFailed needs at least one failed validation")
        self.outcomes = outcomes
        self.outcome = outcomes[0]
        super().__init__("not published: " + "\n".join(o.report() for o in outcomes))


@dataclass(frozen=True)
class GateResult:
    """What a gate did: published, already published, absent, warnings, and how long it took."""

    step: str
    published: tuple[Publication, ...]
    already_published: tuple[str, ...]  # newest version was published before: not re-validated
    absent: tuple[str, ...]  # the step has not written this table (e.g. no input yet)
    outcomes: tuple[ValidationOutcome, ...]
    seconds: float

    @property
    def warnings(self) -> int:
        return sum(len(o.warnings) for o in self.outcomes)

    @property
    def dropped(self) -> int:
        return sum(sum(o.dropped.values()) for o in self.outcomes)

    def report(self) -> str:
        extra = f", {self.warnings} warning(s)" if self.warnings else ""
        extra += f", {self.dropped} row(s) dropped to quarantine" if self.dropped else ""
        lines = [f"{self.step}: quality gate passed in {self.seconds:.1f}s{extra}"]
        by_table = {o.table: o for o in self.outcomes}
        for p in self.published:
            outcome = by_table.get(p.table)
            validated = f" (validated {outcome.row_count} rows, {outcome.scope})" if outcome else ""
            lines.append(f"  published {p.table} @ Delta v{p.delta_version}{validated}")
            for warned in outcome.warnings if outcome else ():
                lines.append(f"    WARNED {warned.describe()}")
            for expectation, count in sorted((outcome.dropped if outcome else {}).items()):
                if count:
                    lines.append(f"    DROPPED {count} row(s) breaking {expectation}")
        lines += [f"  unchanged {t} (newest version already published)" for t in self.already_published]
        lines += [f"  absent    {t} (not built yet)" for t in self.absent]
        return "\n".join(lines)


def _suite(lake: Lake, suites: str, table_id: str, refs: References, dropped: Mapping[str, int]) -> Any:
    if suites == "share":  # generated from the grant's policy (registry/shares.yaml)
        from jobs.share.suite import grant_suite

        return grant_suite(lake.catalogue, table_id)
    if suites == "bronze":
        dataset = lake.table(table_id).dataset
        if dataset is None:
            raise ValueError(f"{table_id} is not a bronze dataset table")
        # Built from the registry in use: the same suite as the checked-in JSON for the province's
        # registry (CI checks that), and the right one for another registry ($GOVLAKE_REGISTRY).
        return bronze_suite_of(dataset, load_registry(lake.settings.registry_path))
    library = lake.table(table_id).library
    return silver_suite(table_id, refs).note_drops(dropped, quarantine_of(library or "unknown"))


def gate_tables(
    lake: Lake,
    step: str,
    suites: str,
    tables: Sequence[str],
    *,
    inputs: Mapping[str, int] | None = None,
    dropped: Mapping[str, Mapping[str, int]] | None = None,
) -> GateResult:
    """Validate the newest version of every table in ``tables``; publish them only if all pass.

    ``suites``: ``bronze`` (generated from the registry) or ``silver`` (jobs.quality.silver_suites).
    ``inputs``: the input versions the step read (reference checks read them; the publications
    record them as lineage). ``dropped``: per table, the rows the build dropped per expectation.

    The tables are published as a unit: a library's crosswalk points at its golden records, so
    sharing one without the other would serve an inconsistent pair. Tables whose newest version is
    already the published one, published from the same ``inputs``, are not validated again (a
    re-run costs nothing). A build that read newer inputs but changed none of a table's rows
    leaves its newest version the published one: it is validated against the new inputs and
    published again with them as lineage, so that the step is up to date afterwards (otherwise
    every later run would rebuild it, and steps downstream of it would never settle). On a failure
    every table's validation is still run and recorded (quality officers see all problems at
    once), nothing is published, and :class:`QualityGateFailed` is raised with every failed
    table's report.
    """
    started = time.perf_counter()
    inputs, dropped = dict(inputs or {}), dict(dropped or {})
    in_force = lake.publications()
    judged: dict[str, int] = {}
    already: list[str] = []
    absent: list[str] = []
    for table_id in tables:
        version = lake.latest_version(table_id)
        if version is None:
            absent.append(table_id)
        elif table_id in in_force and in_force[table_id].covers(version, inputs):
            already.append(table_id)
        else:
            judged[table_id] = version
    versions = {t: (lake.path(t), v) for t, v in inputs.items()}
    versions |= {t: (lake.path(t), in_force[t].delta_version) for t in already}
    versions |= {t: (lake.path(t), v) for t, v in judged.items()}
    refs = References(versions)
    outcomes = []
    for table_id, version in judged.items():
        suite = _suite(lake, suites, table_id, refs, dropped.get(table_id, {}))
        file_column = BRONZE_FILE_COLUMN if suites == "bronze" else getattr(suite, "appended_by", None)
        outcomes.append(
            _validate(
                lake,
                table_id,
                version,
                suite,
                since=in_force.get(table_id) if file_column else None,
                file_column=file_column,
                dropped=dropped.get(table_id, {}),
            )
        )
    published = settle(lake, outcomes, inputs)
    return GateResult(
        step=step,
        published=tuple(published),
        already_published=tuple(already),
        absent=tuple(absent),
        outcomes=tuple(outcomes),
        seconds=time.perf_counter() - started,
    )


def _validate(
    lake: Lake,
    table_id: str,
    version: int,
    suite: Any,
    *,
    since: Publication | None,
    file_column: str | None,
    dropped: Mapping[str, int],
) -> ValidationOutcome:
    """Validate ``version`` of ``table_id``: only the rows of files (``file_column``) appended since
    the publication ``since`` when that gives the whole version's verdict
    (:mod:`jobs.quality.appended_slice`), else the whole version."""
    appended = None
    if since is not None and file_column is not None:
        appended = appended_slice(lake, table_id, version, since, suite, file_column)
    if appended is None:
        return validate_table_version(
            lake.spark,
            table_id,
            lake.path(table_id),
            suite,
            version=version,
            settings=lake.settings,
            record=False,
            dropped=dropped,
        )
    try:
        outcome = validate_dataframe(
            appended.rows,
            suite,
            table=table_id,
            delta_version=version,
            table_path=lake.path(table_id),
            settings=lake.settings,
            record=False,
            dropped=dropped,
            since_version=appended.since_version,
        )
    finally:
        appended.release()
    return with_published_warnings(outcome, appended.trusted)


def settle(lake: Lake, outcomes: Sequence[ValidationOutcome], inputs: Mapping[str, int]) -> list[Publication]:
    """Record a step's validations in one commit, then publish every validated version in one
    commit, or raise :class:`QualityGateFailed` (publishing nothing) when any of them failed."""
    record_validations(lake.spark, outcomes, lake.settings)  # one commit for the step, pass or fail
    failed = [o for o in outcomes if not o.passed]
    if failed:
        raise QualityGateFailed(*failed)
    now = datetime.now(UTC)
    return lake.publish(
        Publication(
            table=o.table,
            table_path=str(o.table_path),
            delta_version=int(o.delta_version),  # type: ignore[arg-type]
            suite=o.suite,
            run_id=o.run_id,
            validated_at=o.validated_at,
            published_at=now,
            summary=o.summary(),
            inputs=dict(inputs),
        )
        for o in outcomes
    )
