"""The gold marts: ``dbt build`` in-process on the step's Spark session, over the published silver.

The ``gold.marts`` step of the pipeline graph runs :func:`build_marts` (its build phase) and then
:func:`jobs.gold.gate.gate_marts` (its gate). The build:

1. registers one view per input at its pinned published version (``silver_population.persons``
   ...: :mod:`jobs.gold.published_views`), the names ``dbt_project/models/staging/__sources.yml``
   reads, so no model can read an unpublished version; the quality records (not gated) at their
   version current now;
2. registers the gold tables that already exist as catalogue tables at their Delta locations, so
   dbt's incremental models find them and merge instead of recreating them;
3. runs ``dbt build`` (models, then their YAML tests and unit tests) with dbt's programmatic runner
   and the ``session`` profile target, passing the catalogue's location for every mart
   (``gold_locations``: models write exactly where ``registry/lake.yaml`` says), the snapshot date
   and the GB/T 4754 sections as vars;
4. on success, ``dbt docs generate --static`` into the gold zone's pending docs location (the gate
   serves it only when it publishes), made to open offline (:mod:`govlake.web_assets`).

It returns, as plain JSON for the gate (an Airflow task of its own), every dbt node's status, the
tests attached to each mart and the Delta version dbt left each mart at.

**ANSI mode.** dbt-spark's session connection sets ``spark.sql.ansi.enabled=false`` on the session
it runs on (on every statement). Spark 4 defaults to ANSI on, and the other jobs of the process
(the scorecard, a later ``govlake run`` step, the tests) are written for it: with ANSI off an invalid
cast yields NULL instead of failing, integer arithmetic wraps on overflow and a division by zero
yields NULL. :func:`session_settings_kept` therefore snapshots the session's SQL settings before dbt
and restores every one dbt changed or added when it returns (``tests/gold`` checks that a bad cast
still fails after the marts ran). The marts themselves are computed with ANSI off, as dbt-spark
intends; their SQL casts nothing that could fail.
"""

from __future__ import annotations

import contextlib
import json
import logging
import tempfile
import time
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from govlake import storage
from govlake.config import REPO_ROOT, Zone
from govlake.lake import Lake
from govlake.lake.context import StepContext
from jobs.gold.published_views import register_current_views, register_published_views, view_name

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

DBT_PROJECT = REPO_ROOT / "dbt_project"
#: The profile target the in-process runner uses (profiles.yml documents the ``thrift`` one).
SESSION_TARGET = "session"
#: dbt's schema prefix in that target (profiles.yml ``schema``): models of folder ``population``
#: land in ``gold_population`` (macros/generate_schema_name.sql).
TARGET_SCHEMA = "gold"
#: The prefix on a shared metastore (GOVLAKE_METASTORE_URL), where ``gold_<group>`` are the SQL
#: endpoint's views at the *published* mart versions (the ``sql.views`` step): dbt's own relations
#: (its newest versions, for merges and tests) go to ``gold_build_<group>`` instead, as in the
#: ``thrift`` profile target, so analysts never see an unpublished mart by name.
SHARED_TARGET_SCHEMA = "gold_build"
#: How jobs/gold/marts.py tells profiles.yml's session target which prefix to use.
TARGET_SCHEMA_ENV = "GOVLAKE_DBT_SCHEMA"
DOCS = "gold.docs"
DOCS_PENDING = "gold.docs_pending"
TIMEZONE = ZoneInfo("Asia/Shanghai")
#: Session settings that record what the session did rather than how it computes (Delta's last
#: commit): left as they are.
BOOKKEEPING_SETTINGS = frozenset({"spark.databricks.delta.lastCommitVersionInSession"})
#: dbt statuses of a node that ran as it should.
OK_STATUSES = frozenset({"success", "pass"})


class MartsFailed(RuntimeError):
    """dbt could not run at all (a parse or connection error): not a test failure."""


# ------------------------------------------------------------------------------ the catalogue


def mart_tables(lake: Lake) -> dict[str, str]:
    """dbt model name -> catalogue table id, for every gold table of the catalogue."""
    tables = {t.name: t.id for t in lake.catalogue.in_zone(Zone.GOLD)}
    if len(tables) != len(lake.catalogue.in_zone(Zone.GOLD)):
        raise ValueError("two gold tables share a name: dbt model names must be unique")
    return tables


def marts_vars(lake: Lake, as_of: datetime) -> dict[str, Any]:
    """The dbt vars of one run: every mart's location from the catalogue, the snapshot date, the
    step's clock and the GB/T 4754 sections."""
    from govlake.reference.industry import SECTIONS

    local = as_of.astimezone(TIMEZONE)
    return {
        "gold_locations": {name: lake.path(table_id) for name, table_id in mart_tables(lake).items()},
        "as_of_date": local.date().isoformat(),
        "built_at": local.strftime("%Y-%m-%d %H:%M:%S"),
        "industry_sections": [[s.letter, s.name] for s in SECTIONS],
    }


def target_schema(spark: SparkSession) -> str:
    """dbt's schema prefix for this session: ``gold``, or ``gold_build`` on a shared metastore."""
    shared = spark.conf.get("spark.sql.catalogImplementation") == "hive"
    return SHARED_TARGET_SCHEMA if shared else TARGET_SCHEMA


def dbt_schema(table_id: str, prefix: str) -> str:
    """The schema dbt builds a mart in: ``gold.population.x`` -> ``<prefix>_population``."""
    return prefix + view_name(table_id)[0].removeprefix(TARGET_SCHEMA)


def register_gold_tables(spark: SparkSession, lake: Lake, prefix: str = TARGET_SCHEMA) -> list[str]:
    """Existing gold Delta tables as catalogue tables where dbt looks for them (``<prefix>_<group>.<model>``).

    Needed by the session target, whose catalogue lives only as long as the process: without them
    dbt would take every incremental mart for new and try to create it over its existing location.
    An entry left by an earlier run on another lake (same process, other storage root) is dropped
    first (an external table: its data stays), so dbt never merges into another lake's table.
    """
    registered = []
    for table_id in mart_tables(lake).values():
        schema, name = dbt_schema(table_id, prefix), view_name(table_id)[1]
        qualified = f"`{schema}`.`{name}`"
        path = lake.path(table_id)
        if spark.catalog.tableExists(f"{schema}.{name}"):
            if _same_location(spark.catalog.getTable(f"{schema}.{name}"), spark, qualified, path):
                registered.append(table_id)
                continue
            kind = spark.catalog.getTable(f"{schema}.{name}").tableType
            if kind == "VIEW":  # e.g. the published gold views of a SQL endpoint in this process
                spark.sql(f"DROP VIEW {qualified}")
            elif kind == "EXTERNAL":
                spark.sql(f"DROP TABLE {qualified}")
            else:
                raise RuntimeError(f"{schema}.{name} is a {kind} table: refusing to drop it")
        if not lake.exists(table_id):
            continue
        spark.sql(f"CREATE SCHEMA IF NOT EXISTS `{schema}`")
        spark.sql(
            f"CREATE TABLE {qualified} USING DELTA LOCATION '{path.replace(chr(39), chr(92) + chr(39))}'"
        )
        registered.append(table_id)
    return registered


def _same_location(table: Any, spark: SparkSession, qualified: str, path: str) -> bool:
    if table.tableType == "VIEW":
        return False
    location = str(spark.sql(f"DESCRIBE DETAIL {qualified}").first()["location"])
    return location.removeprefix("file:").rstrip("/") == path.removeprefix("file:").rstrip("/")


# ----------------------------------------------------------------------------- the session


@contextlib.contextmanager
def session_settings_kept(spark: SparkSession) -> Iterator[dict[str, str]]:
    """Restore every runtime SQL setting of ``spark`` that the block changed or added.

    Yields a dict that is filled, on exit, with what was restored (``key: "dbt's -> ours"``).
    """
    before = dict(spark.conf.getAll)
    restored: dict[str, str] = {}
    try:
        yield restored
    finally:
        after = dict(spark.conf.getAll)
        for key, value in after.items():
            if before.get(key) == value or key in BOOKKEEPING_SETTINGS or not spark.conf.isModifiable(key):
                continue
            if key in before:
                spark.conf.set(key, before[key])
                restored[key] = f"{value} -> {before[key]}"
            else:
                spark.conf.unset(key)
                restored[key] = f"{value} -> (unset)"
        if restored:
            log.info("session settings dbt changed, restored: %s", restored)


# ---------------------------------------------------------------------------------- dbt


@contextlib.contextmanager
def _target_schema_env(prefix: str) -> Iterator[None]:
    import os

    before = os.environ.get(TARGET_SCHEMA_ENV)
    os.environ[TARGET_SCHEMA_ENV] = prefix
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(TARGET_SCHEMA_ENV, None)
        else:
            os.environ[TARGET_SCHEMA_ENV] = before


def _invoke(args: list[str], work: Path, dbt_vars: Mapping[str, Any], prefix: str = TARGET_SCHEMA) -> Any:
    from dbt.cli.main import dbtRunner

    full = [
        *args,
        "--project-dir",
        str(DBT_PROJECT),
        "--profiles-dir",
        str(DBT_PROJECT),
        "--target",
        SESSION_TARGET,
        "--target-path",
        str(work / "target"),
        "--log-path",
        str(work / "logs"),
        "--vars",
        json.dumps(dict(dbt_vars), ensure_ascii=False),
    ]
    with _target_schema_env(prefix):
        result = dbtRunner().invoke(full)
    if result.exception is not None:
        raise MartsFailed(f"dbt {' '.join(args)} could not run: {result.exception}") from result.exception
    return result


def _node_results(result: Any) -> list[dict[str, Any]]:
    rows = []
    for r in result.result or ():
        node = r.node
        rows.append(
            {
                "unique_id": node.unique_id,
                "name": node.name,
                "resource_type": str(node.resource_type),
                "status": str(r.status),
                "failures": r.failures,
                "message": (r.message or "")[:2000],
                "seconds": round(float(r.execution_time or 0.0), 3),
            }
        )
    return rows


def _attach_tests(
    manifest: dict[str, Any], nodes: list[dict[str, Any]], marts: Mapping[str, str]
) -> dict[str, list[str]]:
    """Mart table id -> the tests (data and unit) that judge it or anything it is built from."""
    parents: dict[str, list[str]] = manifest.get("parent_map", {})
    by_model = {f"model.govlake.{name}": table_id for name, table_id in marts.items()}

    def ancestors(node_id: str) -> set[str]:
        seen: set[str] = set()
        pending = [node_id]
        while pending:
            for parent in parents.get(pending.pop(), []):
                if parent not in seen:
                    seen.add(parent)
                    pending.append(parent)
        return seen

    upstream = {model: ancestors(model) | {model} for model in by_model}
    tests = [n for n in nodes if n["resource_type"] in ("test", "unit_test")]
    attached: dict[str, list[str]] = {table_id: [] for table_id in marts.values()}
    unit_tests = manifest.get("unit_tests", {})
    for test in tests:
        if test["resource_type"] == "unit_test":
            model = (unit_tests.get(test["unique_id"], {}).get("depends_on", {}).get("nodes") or [None])[0]
            judged = {model} if model else set()
        else:
            judged = set(parents.get(test["unique_id"], []))
        for model, table_id in by_model.items():
            if judged & upstream[model]:
                attached[table_id].append(test["unique_id"])
    return attached


def _create_missing_incremental_marts(
    lake: Lake, marts: Mapping[str, str], work: Path, dbt_vars: Mapping[str, Any], prefix: str = TARGET_SCHEMA
) -> list[str]:
    """On a first build, create each missing incremental mart empty (``dbt run --empty``).

    A unit test of an incremental model reads the model's own relation (``input: this``), which
    dbt requires to exist; without it the first build of a new lake fails its own tests. The empty
    version is not published: the gate after ``dbt build`` decides what readers see.
    """
    missing = sorted(name for name, table_id in marts.items() if lake.latest_version(table_id) is None)
    if not missing:
        return []
    listed = _invoke(
        ["ls", "--resource-type", "model", "--select", "config.materialized:incremental", "--output", "name"],
        work,
        dbt_vars,
        prefix,
    )
    incremental = sorted(set(missing) & set(listed.result or ()))
    if not incremental:
        return []
    # With their ancestors (staging and intermediate views), which do not exist yet either.
    selector = " ".join(f"+{name}" for name in incremental)
    result = _invoke(["run", "--empty", "--select", selector], work, dbt_vars, prefix)
    if not result.success:
        raise MartsFailed(f"dbt run --empty of the missing incremental marts failed: {incremental}")
    return incremental


def build_marts(ctx: StepContext) -> dict[str, Any]:
    """The gold.marts step's build: register the published inputs, ``dbt build``, docs on success."""
    from jobs.silver.tables import skipped

    lake, spark = ctx.lake, ctx.spark
    unpublished = sorted(t for t, v in ctx.pins.items() if v is None)
    if unpublished:
        return skipped(f"not published yet: {', '.join(unpublished)}")
    marts = mart_tables(lake)
    started = time.perf_counter()
    dbt_vars = marts_vars(lake, ctx.as_of)
    with session_settings_kept(spark) as restored, tempfile.TemporaryDirectory(prefix="govlake-dbt-") as tmp:
        work = Path(tmp)
        views = register_published_views(spark, lake, ctx.pins)
        views += register_current_views(spark, lake, [t for t in ctx.inputs if t not in ctx.pins])
        prefix = target_schema(spark)
        existing = register_gold_tables(spark, lake, prefix)
        created_empty = _create_missing_incremental_marts(lake, marts, work, dbt_vars, prefix)
        result = _invoke(["build"], work, dbt_vars, prefix)
        nodes = _node_results(result)
        manifest = json.loads((work / "target" / "manifest.json").read_text(encoding="utf-8"))
        passed = bool(result.success) and all(n["status"] in OK_STATUSES for n in nodes)
        docs = None
        if passed:
            docs = write_docs(lake, work, dbt_vars, prefix)
    versions = {table_id: lake.latest_version(table_id) for table_id in marts.values()}
    failed = [n for n in nodes if n["status"] not in OK_STATUSES]
    counts = {
        "dbt": {
            "passed": passed,
            "models": sum(n["resource_type"] == "model" for n in nodes),
            "tests": sum(n["resource_type"] == "test" for n in nodes),
            "unit_tests": sum(n["resource_type"] == "unit_test" for n in nodes),
            "failed": [f"{n['unique_id']}: {n['status']}" for n in failed],
            "seconds": round(time.perf_counter() - started, 1),
        },
        "nodes": nodes,
        "tests_of": _attach_tests(manifest, nodes, marts),
        "versions": versions,
        "views": {v.qualified: v.version for v in views},
        "gold_tables_found": existing,
        "created_empty": created_empty,
        "session_settings_restored": restored,
        "docs_pending": docs,
    }
    log.info("gold marts: dbt build %s in %.1fs", "passed" if passed else "FAILED", counts["dbt"]["seconds"])
    return counts


# ---------------------------------------------------------------------------------- docs


def write_docs(lake: Lake, work: Path, dbt_vars: Mapping[str, Any], prefix: str = TARGET_SCHEMA) -> str:
    """``dbt docs generate --static`` (one page, manifest and catalog inside), written to the gold
    zone's pending docs location and made to load nothing from the internet. Returns its path."""
    from govlake import web_assets

    _invoke(["docs", "generate", "--static"], work, dbt_vars, prefix)
    page = (work / "target" / "static_index.html").read_bytes()
    site = lake.location(DOCS_PENDING)
    storage.write_bytes(lake.settings, f"{site}/index.html", page)
    report = web_assets.make_site_offline(lake.settings, site, pages=["index.html"])
    if not report.clean:
        log.warning("dbt docs: external references left: %s", {**report.blocked, **report.unresolved})
    return f"{site}/index.html"


def promote_docs(lake: Lake) -> str | None:
    """Serve the pending docs page (the gate calls this when it publishes). Returns the served page."""
    pending = f"{lake.location(DOCS_PENDING)}/index.html"
    if not storage.exists(lake.settings, pending):
        return None
    served = f"{lake.location(DOCS)}/index.html"
    storage.write_bytes(lake.settings, served, storage.read_bytes(lake.settings, pending))
    return served


def docs_page(lake: Lake) -> str:
    """Where the served dbt docs page is (open it in a browser when the lake is local)."""
    return f"{lake.location(DOCS)}/index.html"


def main(argv: list[str] | None = None) -> None:
    """``python -m jobs.gold.marts --print-vars``: the dbt vars of a run now, as JSON (for running
    dbt by hand, e.g. against the shared Thrift endpoint; see dbt_project/profiles.yml)."""
    import argparse
    from datetime import UTC

    from govlake.config import load_settings

    parser = argparse.ArgumentParser(prog="python -m jobs.gold.marts", description=main.__doc__)
    parser.add_argument("--print-vars", action="store_true", required=True)
    parser.parse_args(argv)
    print(json.dumps(marts_vars(Lake(load_settings()), datetime.now(UTC)), ensure_ascii=False))


if __name__ == "__main__":
    main()
