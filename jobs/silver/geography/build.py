"""Build the geography library: admin divisions, address points in WGS84 with H3 cells, cell counts.

Tables (silver zone, geography/):
  admin_divisions   province -> city -> district from the GB/T 2260 gazetteer (govlake.reference),
                    every code ever valid: ``valid_from_year`` / ``valid_to_year`` (NULL: open),
                    ``is_current``, and for an abolished code its current ``successor_code``; with
                    ``in_extract`` saying whether the province's own admin-division extract
                    (bronze) lists the code and ``name_in_extract`` where its name differs
  address_points    every valid point: WGS84 coordinates (GCJ-02 converted), H3 cell, admin code
                    (current; ``admin_code_sent`` as sent, ``admin_code_historical``)
  grid_cells        per H3 cell: address points, current persons and legal persons whose
                    standardized address is one of the cell's points (for grid-based governance)

Every table is a full snapshot of its inputs, so a key that is gone from them is deleted: a code
dropped from the gazetteer, a point no longer in bronze, a cell left with no point.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from govlake.lake.context import StepContext
from jobs.silver.tables import skipped, upsert_changed

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)


ADMIN_DIVISIONS = "silver.geography.admin_divisions"
ADDRESS_POINTS = "silver.geography.address_points"
GRID_CELLS = "silver.geography.grid_cells"
#: Upstream libraries' golden records (the versions pinned for the run): located in grid cells.
PERSONS = "silver.population.persons"
LEGAL_PERSONS = "silver.legal_persons.legal_persons"


GAZETTEER_DDL = (
    "code string, name string, level string, parent_code string, valid_from_year int,"
    " valid_to_year int, is_current boolean, successor_code string"
)


def gazetteer_frame(spark: SparkSession) -> DataFrame:
    """Every Jiangsu admin-division code ever valid, current and abolished, as a DataFrame (reference
    data, not an extract): an abolished code has its last name and its current ``successor_code``."""
    from govlake.reference.admin_divisions import jiangsu_division_history

    rows = [
        (
            h.code,
            h.name,
            h.level.value,
            h.parent_code,
            h.first_year,
            h.last_year,
            h.is_current,
            h.successor_code,
        )
        for h in jiangsu_division_history()
    ]
    return spark.createDataFrame(rows, GAZETTEER_DDL)


def admin_divisions(gazetteer: DataFrame, extract: DataFrame | None) -> DataFrame:
    """Gazetteer rows with the province's extract cross-checked against them (pure)."""
    from pyspark.sql import functions as F

    if extract is None:
        return gazetteer.withColumn("in_extract", F.lit(False)).withColumn(
            "name_in_extract", F.lit(None).cast("string")
        )
    sent = extract.select(
        F.regexp_replace(F.trim("code"), r"\s", "").alias("code"), F.trim("name").alias("_sent_name")
    ).dropDuplicates(["code"])
    return gazetteer.join(sent, "code", "left").select(
        *gazetteer.columns,
        F.col("_sent_name").isNotNull().alias("in_extract"),
        F.when(F.col("_sent_name") != F.col("name"), F.col("_sent_name")).alias("name_in_extract"),
    )


def address_points(bronze: DataFrame, divisions: DataFrame, resolution: int = 9) -> DataFrame:
    """Standardize address points: WGS84, H3 cell, admin code checked against the gazetteer (pure).

    ``admin_code`` is the current code (an abolished one's successor), ``admin_code_known`` says it is
    a current district of ``divisions``.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from jobs.silver.rules.admin_codes import admin_code
    from jobs.silver.rules.coordinates import to_wgs84
    from jobs.silver.rules.grid import h3_cell
    from jobs.silver.rules.text import clean_spaces, fold_fullwidth

    wgs = to_wgs84(F.col("longitude"), F.col("latitude"), F.col("crs"))
    admin = admin_code(F.regexp_replace(F.trim("admin_code"), r"\s", ""))
    points = bronze.select(
        F.trim("address_id").alias("address_id"),
        clean_spaces(fold_fullwidth(F.col("address"))).alias("address"),
        admin.code.alias("admin_code"),
        admin.code_sent.alias("admin_code_sent"),
        admin.is_historical.alias("admin_code_historical"),
        F.upper(F.col("crs")).alias("crs_sent"),
        wgs.lon.alias("lon_wgs84"),
        wgs.lat.alias("lat_wgs84"),
        wgs.invalid_reason.alias("invalid_reason"),
        wgs.out_of_china.alias("out_of_china"),
        F.col("_source_id").alias("source_id"),
        F.col("_ingested_at").alias("ingested_at"),
    )
    # A point sent more than once: the latest delivery wins, deterministically.
    latest = Window.partitionBy("address_id").orderBy(F.col("ingested_at").desc(), "address", "lon_wgs84")
    points = points.withColumn("_n", F.row_number().over(latest)).where("_n = 1").drop("_n")
    districts = divisions.where("level = 'district' AND is_current").select(
        F.col("code").alias("admin_code"), F.lit(True).alias("admin_code_known")
    )
    return (
        points.join(districts, "admin_code", "left")
        .withColumn("admin_code_known", F.coalesce("admin_code_known", F.lit(False)))
        .withColumn(
            "h3_cell",
            F.when(
                F.col("invalid_reason").isNull(), h3_cell(F.col("lon_wgs84"), F.col("lat_wgs84"), resolution)
            ),
        )
        .withColumn("city_code", F.concat(F.substring("admin_code", 1, 4), F.lit("00")))
    )


def grid_cells(points: DataFrame, persons: DataFrame | None, legal_persons: DataFrame | None) -> DataFrame:
    """Per H3 cell: address points, persons and legal persons located by exact standardized address."""
    from pyspark.sql import functions as F

    located = (
        points.where(F.col("h3_cell").isNotNull()).select("address", "h3_cell").dropDuplicates(["address"])
    )
    cells = (
        points.where(F.col("h3_cell").isNotNull())
        .groupBy("h3_cell")
        .agg(
            F.count("*").alias("address_points"), F.first("admin_code", ignorenulls=True).alias("admin_code")
        )
    )
    for name, df, address_col in (
        ("persons", persons, "address"),
        ("legal_persons", legal_persons, "registered_address"),
    ):
        if df is None:
            cells = cells.withColumn(name, F.lit(0).cast("long"))
            continue
        counts = (
            df.select(F.col(address_col).alias("address"))
            .join(located, "address")
            .groupBy("h3_cell")
            .agg(F.count("*").alias(name))
        )
        cells = cells.join(counts, "h3_cell", "left").withColumn(
            name, F.coalesce(F.col(name), F.lit(0)).cast("long")
        )
    return cells


def build_geography(ctx: StepContext, resolution: int = 9) -> dict[str, Any]:
    """Rebuild the geography library from the gazetteer and its pinned inputs; returns what changed.

    The admin divisions come from reference data and are always built; until address points have
    been published, ``address_points`` and ``grid_cells`` report ``{"skipped": <why>}``.
    """
    spark = ctx.spark
    bronze = ctx.read_bronze()

    divisions = admin_divisions(gazetteer_frame(spark), bronze.get("admin_divisions"))
    counts: dict[str, Any] = {
        "admin_divisions": upsert_changed(
            spark, ctx.path(ADMIN_DIVISIONS), divisions, ["code"], delete_missing=True
        )
    }
    if "address_points" not in bronze:
        reason = skipped("no address_points bronze table yet")
        counts.update(address_points=reason, grid_cells=reason)
        log.info("geography library: %s", counts)
        return counts
    standardized = address_points(bronze["address_points"], divisions, resolution).cache()
    points = ctx.drop_invalid(ADDRESS_POINTS, standardized)
    try:
        counts["address_points"] = upsert_changed(
            spark, ctx.path(ADDRESS_POINTS), points, ["address_id"], delete_missing=True
        )
        cells = grid_cells(points, ctx.read_current(PERSONS), ctx.read_current(LEGAL_PERSONS))
        counts["grid_cells"] = upsert_changed(
            spark, ctx.path(GRID_CELLS), cells, ["h3_cell"], delete_missing=True
        )
    finally:
        standardized.unpersist()
    log.info("geography library: %s", counts)
    return counts
