"""The gold marts on generated data: the whole pipeline on a small lake of this module's own, then the
gold.marts step (``dbt build`` in-process, its YAML tests and unit tests) through its gate.

Checked here: every mart is published at its catalogue location; a mart figure equals the same
figure computed independently from the published silver with Spark's DataFrame API; no personal
identifier reaches gold; the session's ANSI mode is back on after dbt; the served dbt docs page loads
nothing from the internet (scanned, and opened in Chromium with the network off); and on a copy of
the lake a failing dbt test publishes nothing, so the previous gold versions stay served.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from browser import open_offline
from lakehelpers import publish_latest

from govlake import storage, web_assets
from govlake.config import Zone
from govlake.lake import Lake

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

#: Columns that would carry a person's or an enterprise's identity: none may be in gold.
IDENTIFYING = {"id_number", "id_number_raw", "name", "address", "phone", "uscc", "person_id", "record_key"}


@pytest.fixture(scope="module")
def graph():
    from govlake.registry import load_registry
    from jobs.pipeline.graph import pipeline_graph

    return pipeline_graph(load_registry())


@pytest.fixture(scope="module")
def built(built_lake):
    """The session's built lake: generated extracts through every step of the graph, the marts last."""
    return built_lake.lake, built_lake.runs["gold.marts"]


def test_dbt_build_passes_with_its_tests_and_unit_tests(built, graph):
    lake, run = built
    dbt = run.built["counts"]["dbt"]
    print("dbt build:", json.dumps(dbt))
    assert dbt["passed"] and not dbt["failed"]
    assert dbt["models"] >= 25 and dbt["tests"] >= 60 and dbt["unit_tests"] >= 5
    statuses = {n["status"] for n in run.built["counts"]["nodes"]}
    assert statuses <= {"success", "pass"}
    published = {p.table: p.delta_version for p in run.gate.published}
    assert set(published) == set(graph.step("gold.marts").gate.tables)
    in_force = lake.publications()
    for table_id, version in published.items():
        assert in_force[table_id].delta_version == version and in_force[table_id].suite == "dbt"
        # lineage: the silver versions the marts were built from
        assert (
            in_force[table_id].inputs["silver.population.persons"]
            == in_force["silver.population.persons"].delta_version
        )
    # every dbt test is recorded as an expectation of a mart's validation
    recorded = lake.spark.read.format("delta").load(lake.path("quality.validations")).where("suite = 'dbt'")
    assert recorded.count() == len(published) and recorded.where("passed").count() == len(published)


def test_marts_are_delta_tables_at_their_catalogue_locations(built):
    lake, _ = built
    for table in lake.catalogue.in_zone(Zone.GOLD):
        detail = lake.spark.sql(f"DESCRIBE DETAIL delta.`{lake.path(table.id)}`").first()
        assert detail["format"] == "delta", table.id
        assert detail["location"].rstrip("/").endswith(table.relative_path), (table.id, detail["location"])


def test_births_per_month_and_city_match_an_independent_computation_on_silver(built):
    """fct_vital_events_monthly's births, recomputed from the published silver with the DataFrame API."""
    from pyspark.sql import functions as F

    lake, _ = built
    persons = lake.read_published("silver.population.persons").where("is_current")
    records = lake.read_published("silver.population.person_records")
    crosswalk = lake.read_published("silver.population.crosswalk")
    cities = lake.read_published("silver.geography.admin_divisions").where("level = 'city'").select("code")
    city = lambda c: F.when(c.rlike("^32[0-9]{4}$"), F.concat(F.substring(c, 1, 4), F.lit("00")))  # noqa: E731
    districts = lake.read_published("silver.geography.admin_divisions").where("level = 'district'")
    residence = persons.join(
        districts.select(F.col("code").alias("admin_code"), F.col("parent_code").alias("home_city")),
        "admin_code",
        "left",
    ).join(
        cities.select(F.col("code").alias("admin_code"), F.col("code").alias("home_city_2")),
        "admin_code",
        "left",
    )
    residence = residence.select(
        "person_id", "birth_date", F.coalesce("home_city", "home_city_2", F.lit("unknown")).alias("home_city")
    )
    births = (
        records.where("dataset = 'birth_records'")
        .join(crosswalk, "record_key")
        .groupBy("person_id")
        .agg(F.max(F.coalesce(city(records["admin_code"]), F.lit("unknown"))).alias("birth_city"))
        .join(residence, "person_id")
        .where("birth_date is not null")
        .select(
            F.trunc("birth_date", "month").alias("month"),
            F.when(F.col("birth_city") != "unknown", F.col("birth_city"))
            .otherwise(F.col("home_city"))
            .alias("city"),
        )
    )
    expected = {
        (r["month"], r["city"]): r["n"]
        for r in births.groupBy("month", "city").agg(F.count("*").alias("n")).collect()
    }
    mart = lake.read_published("gold.population.fct_vital_events_monthly").where("births > 0").collect()
    actual = {(r["month"], r["city_code"]): r["births"] for r in mart}
    print(f"births: {sum(expected.values())} in {len(expected)} month x city cells")
    assert expected and actual == expected


def test_pyramid_counts_every_living_person_once(built):
    from pyspark.sql import functions as F

    lake, _ = built
    as_of = lake.read_published("gold.population.fct_population_pyramid").agg(F.max("as_of_date")).first()[0]
    persons = lake.read_published("silver.population.persons").where("is_current")
    alive = persons.where(
        (F.col("birth_date") <= F.lit(as_of))
        & (F.col("death_date").isNull() | (F.col("death_date") > F.lit(as_of)))
    ).count()
    pyramid = lake.read_published("gold.population.fct_population_pyramid").where(
        F.col("as_of_date") == as_of
    )
    assert pyramid.agg(F.sum("persons")).first()[0] == alive > 0


def test_no_personal_identifier_reaches_gold(built):
    lake, _ = built
    for table in lake.catalogue.in_zone(Zone.GOLD):
        columns = set(lake.read_published(table.id).columns)
        # a reference dimension's `name` is a division's or an industry section's, public by law
        identifying = IDENTIFYING - {"name"} if table.id.startswith("gold.reference.") else IDENTIFYING
        assert not columns & identifying, (table.id, columns & identifying)


def test_ansi_mode_is_back_on_after_dbt(built, spark):
    """dbt-spark turns ANSI off on its session; the marts step restores it for the jobs after it."""
    _, run = built
    restored = run.built["counts"]["session_settings_restored"]
    assert restored.get("spark.sql.ansi.enabled", "").startswith("false ->")
    assert spark.conf.get("spark.sql.ansi.enabled") == "true"
    with pytest.raises(Exception, match=r"CAST_INVALID_INPUT|cannot be cast"):
        spark.sql("SELECT CAST('not a number' AS INT)").collect()


def _open_offline(page: Path, tmp_path: Path) -> tuple[str, list[str]]:
    visit = open_offline(page.as_uri(), tmp_path)
    return visit.dom, visit.requests


def test_dbt_docs_are_served_in_the_gold_zone_and_open_offline(built, tmp_path):
    from jobs.gold.marts import docs_page

    lake, _ = built
    page = docs_page(lake)
    assert page.startswith(lake.settings.zone(Zone.GOLD))
    text = storage.read_bytes(lake.settings, page).decode("utf-8")
    assert web_assets.external_references(text) == []
    assert "fct_population_pyramid" in text  # manifest and catalog are inside the page (--static)
    dom, requests = _open_offline(Path(page), tmp_path)
    assert not [r for r in requests if r.startswith(("http:", "https:"))], requests
    assert "fct_population_pyramid" in dom and "dbt" in dom.lower()


def test_a_failing_dbt_test_publishes_nothing_and_keeps_the_previous_gold_served(
    built, graph, spark, tmp_path
):
    """On a copy of the lake: a duplicated admin division (published silver, unvalidated) breaks the
    unique tests; the gate records the failure and publishes nothing, the previous gold is served."""
    from lakehelpers import settings_at

    from jobs.pipeline.run import build, gate
    from jobs.quality.gate import QualityGateFailed

    lake, _ = built
    copy_root = tmp_path / "lake"
    shutil.copytree(lake.settings.storage_root, copy_root)
    copy = Lake(settings_at(copy_root), spark)
    step = graph.step("gold.marts")
    served = {t: copy.publications()[t].delta_version for t in step.gate.tables}
    docs_before = storage.read_bytes(copy.settings, f"{copy.location('gold.docs')}/index.html")

    divisions = "silver.geography.admin_divisions"
    # a current division (the history's retired codes are filtered out before the unique tests)
    row = copy.read_published(divisions).where("level = 'city' and is_current").orderBy("code").limit(1)
    row.write.format("delta").mode("append").save(copy.path(divisions))
    publish_latest(copy, divisions)

    built_again = build(step, copy)
    assert built_again["counts"]["dbt"]["passed"] is False
    failed = built_again["counts"]["dbt"]["failed"]
    assert any("unique" in f and "admin_divisions" in f for f in failed), failed
    with pytest.raises(QualityGateFailed) as raised:
        gate(step, copy, built_again)
    assert any(not o.passed for o in raised.value.outcomes)
    in_force = copy.publications()
    assert {t: in_force[t].delta_version for t in step.gate.tables} == served
    recorded = (
        spark.read.format("delta")
        .load(copy.path("quality.validations"))
        .where("suite = 'dbt' and not passed")
    )
    assert recorded.count() >= 1
    assert storage.read_bytes(copy.settings, f"{copy.location('gold.docs')}/index.html") == docs_before
    assert spark.conf.get("spark.sql.ansi.enabled") == "true"


def test_gate_outcomes_say_what_each_validation_covered_and_an_older_mart_gains_the_columns(
    built, graph, spark, tmp_path
):
    """fct_gate_outcomes carries each validation's scope (a bronze gate's appended slice, or the
    whole table). On a copy whose mart predates the columns, the incremental build adds and fills
    them (merge_changes counts a measure the mart lacks as changed)."""
    from lakehelpers import settings_at

    from jobs.pipeline.run import build

    lake, _ = built
    outcomes = spark.read.format("delta").load(lake.path("gold.quality.fct_gate_outcomes"))
    # One delivery: every gate judged its table's first version whole (the slice is in the unit test).
    assert {r["scope"] for r in outcomes.select("scope").distinct().collect()} == {"whole table"}

    copy_root = tmp_path / "lake"
    shutil.copytree(lake.settings.storage_root, copy_root)
    copy = Lake(settings_at(copy_root), spark)
    path = copy.path("gold.quality.fct_gate_outcomes")
    older = spark.read.format("delta").load(path).drop("scope", "since_version")
    older.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(path)

    built_again = build(graph.step("gold.marts"), copy)

    assert built_again["counts"]["dbt"]["passed"], built_again["counts"]["dbt"]
    mart = spark.read.format("delta").load(path)
    assert {"scope", "since_version"} <= set(mart.columns)
    # every validation recorded so far (the gates after the first marts build added some)
    recorded = spark.read.format("delta").load(copy.path("quality.validations")).count()
    assert mart.count() == recorded > outcomes.count() and mart.where("scope IS NULL").count() == 0
