"""Lake tables by name in a Spark session, each pinned at the version readers may see.

dbt sources, the SQL endpoint and notebooks name tables (``silver_population.persons``), not paths.
:func:`register_published_views` makes those names in a session: one view per table, over its Delta
path at exactly the pinned version (``SELECT * FROM delta.`<path>` VERSION AS OF <n>``), so a query
by name can never read a version the quality gate did not publish. A table that was never published
gets no view: a model reading it fails loudly instead of reading something unpublished.

Names follow the catalogue id: the last part is the view, the parts before it (joined by ``_``) the
schema: ``silver.population.persons`` -> ``silver_population.persons``, ``quality.validations`` ->
``quality.validations``, ``gold.population.fct_population_pyramid`` ->
``gold_population.fct_population_pyramid``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from govlake.config import Zone
from govlake.lake import Lake
from govlake.lake.catalogue import Catalogue

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from govlake.lake.context import StepContext


@dataclass(frozen=True)
class View:
    """A view registered over one table version."""

    table_id: str
    schema: str
    name: str
    version: int

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


def view_name(table_id: str) -> tuple[str, str]:
    """(schema, view) of a catalogue table id (its parts are checked snake_case by the catalogue)."""
    *schema, name = table_id.split(".")
    return "_".join(schema), name


def _quoted_path(path: str) -> str:
    return path.replace("`", "``")


def create_view(spark: SparkSession, lake: Lake, table_id: str, version: int) -> View:
    """``<schema>.<name>`` over ``table_id`` at ``version``, replacing a view of the same name.

    An existing view is altered in place (``ALTER VIEW ... AS``: one metastore update), not
    re-created: Spark's ``CREATE OR REPLACE VIEW`` drops the view and creates it again, and a query
    of the SQL endpoint that lands in between finds no such table (seen in tests/sql).
    """
    schema, name = view_name(table_id)
    spark.sql(f"CREATE SCHEMA IF NOT EXISTS `{schema}`")
    query = f"SELECT * FROM delta.`{_quoted_path(lake.path(table_id))}` VERSION AS OF {int(version)}"
    if spark.catalog.tableExists(f"`{schema}`.`{name}`"):
        spark.sql(f"ALTER VIEW `{schema}`.`{name}` AS {query}")
    else:
        spark.sql(f"CREATE OR REPLACE VIEW `{schema}`.`{name}` AS {query}")
    return View(table_id, schema, name, int(version))


def register_published_views(
    spark: SparkSession, lake: Lake, pins: Mapping[str, int | None] | None = None
) -> list[View]:
    """One view per published table at its pinned version; tables pinned to None get none.

    ``pins``: table id -> version (a step's ``StepContext.pins``); default: every published table of
    the catalogue at the version in force now (what the SQL endpoint serves).
    """
    if pins is None:
        in_force = lake.publications()
        pins = {
            t.id: in_force[t.id].delta_version if t.id in in_force else None
            for t in lake.catalogue.published_tables()
        }
    views = []
    for table_id, version in pins.items():
        if not lake.table(table_id).published:
            raise ValueError(f"{table_id} is not a published table: pin only published tables")
        if version is not None:
            views.append(create_view(spark, lake, table_id, version))
    return views


def register_current_views(spark: SparkSession, lake: Lake, table_ids: Iterable[str]) -> list[View]:
    """Views over unpublished tables (quality records) at their newest version *now*.

    Pinned at registration, so every query of one run reads the same snapshot even while other
    steps append. A published table is refused: readers read those at their published version.
    """
    views = []
    for table_id in table_ids:
        if lake.table(table_id).published:
            raise ValueError(f"{table_id} is published: register it with register_published_views")
        version = lake.latest_version(table_id)
        if version is not None:
            views.append(create_view(spark, lake, table_id, version))
    return views


@dataclass(frozen=True)
class EndpointViews:
    """What one refresh of the SQL endpoint's names did (the ``sql.views`` step's result)."""

    views: tuple[View, ...] = ()
    skipped: str | None = None

    def as_dict(self) -> dict[str, object]:
        if self.skipped:
            return {"skipped": self.skipped}
        return {"views": {v.qualified: v.version for v in self.views}}

    def report(self) -> str:
        if self.skipped:
            return f"skipped: {self.skipped}"
        schemas = sorted({v.schema for v in self.views})
        return f"{len(self.views)} view(s) at their published versions in {', '.join(schemas) or '-'}"


def endpoint_table_ids(catalogue: Catalogue) -> tuple[str, ...]:
    """The tables the SQL endpoint names: every published library table and mart."""
    return tuple(t.id for t in catalogue.published_tables() if t.zone in (Zone.SILVER, Zone.GOLD))


def _shared_metastore_skip(spark: SparkSession, lake: Lake) -> str | None:
    """Why there is nothing to name (no shared metastore), or None; refuses a session not on it."""
    if lake.settings.metastore is None:
        return "no shared metastore configured (GOVLAKE_METASTORE_URL)"
    if spark.conf.get("spark.sql.catalogImplementation") != "hive":
        raise RuntimeError(
            "GOVLAKE_METASTORE_URL is set but this process's Spark session was started without it: "
            "its views would not reach the shared metastore"
        )
    return None


def repoint_endpoint_views(spark: SparkSession, lake: Lake, versions: Mapping[str, int]) -> EndpointViews:
    """Re-point the endpoint's views of tables republished outside the ``sql.views`` step.

    Housekeeping republishes a compacted table at a new version without an asset event, so no
    ``sql.views`` run follows; a view left at the version before would lose its files at a later
    VACUUM. Tables the endpoint does not name are left alone.
    """
    skipped = _shared_metastore_skip(spark, lake)
    if skipped:
        return EndpointViews(skipped=skipped)
    served = set(endpoint_table_ids(lake.catalogue))
    return EndpointViews(
        views=tuple(create_view(spark, lake, t, v) for t, v in sorted(versions.items()) if t in served)
    )


def refresh_endpoint_views(ctx: StepContext) -> EndpointViews:
    """The ``sql.views`` step: one view per published library table and mart, in the shared metastore.

    The SQL endpoint's Thrift and Connect servers (``infra/sql-endpoint/``) resolve these names in
    the metastore at every query, so re-pointing a view is what makes a new publication visible
    there; a version that failed its gate is never pinned, so the endpoint keeps serving the one
    before. Without a shared metastore (the embedded default) names live in each session and there
    is nothing to refresh.
    """
    skipped = _shared_metastore_skip(ctx.spark, ctx.lake)
    if skipped:
        return EndpointViews(skipped=skipped)
    return EndpointViews(views=tuple(register_published_views(ctx.spark, ctx.lake, ctx.pins)))
