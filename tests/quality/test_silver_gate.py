"""The silver quality gate end to end on generated extracts: the session's built lake, and a copy of
it for the batches that change it.

A clean batch passes every silver suite and is published; a re-run builds and validates nothing. A
later batch with a death certificate whose death precedes the birth (a `drop` expectation on person
records) is published without exactly that record, which goes to quarantine with the expectation's
name. A defective build (a second current golden row: a `fail` expectation) is refused, nothing of
it is published, and readers are still served the previously published versions.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from govlake.lake import Lake
from govlake.registry import load_registry

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

LIBRARY_STEPS = ("silver.population", "silver.legal_persons", "silver.geography")
ALL_TABLES = {
    f"silver.{library}.{table}"
    for library, tables in {
        "population": ("person_records", "persons", "crosswalk"),
        "legal_persons": ("records", "legal_persons", "crosswalk"),
        "geography": ("admin_divisions", "address_points", "grid_cells"),
    }.items()
    for table in tables
}


@pytest.fixture(scope="module")
def lake(built_lake, tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """A copy of the built lake: this module adds batches and breaks a build."""
    return built_lake.copy(tmp_path_factory.mktemp("gated") / "lake")


@pytest.fixture(scope="module")
def graph():
    from jobs.pipeline.graph import pipeline_graph

    return pipeline_graph(load_registry())


@pytest.fixture(scope="module")
def generated(built_lake) -> Path:
    return built_lake.generated


def _run(graph, lake, names=None):
    from jobs.pipeline.graph import StepKind
    from jobs.pipeline.run import run_steps

    steps = [
        s for s in graph.data_steps if s.kind is not StepKind.REPORT and (names is None or s.name in names)
    ]
    return {r.step.name: r for r in run_steps(graph, lake, steps)}


@pytest.fixture(scope="module")
def first_run(built_lake, lake):
    """What the built lake's first run did (the copy holds its result)."""
    return built_lake.runs


def _served_counts(lake: Lake) -> dict[str, int]:
    return {t: lake.read_published(t).count() for t in ALL_TABLES}


def test_clean_batch_is_validated_and_published(spark, lake, first_run):
    from jobs.quality.gx_runner import read_validations

    assert not [name for name, run in first_run.items() if run.failed]
    published = {p.table: p.delta_version for name in LIBRARY_STEPS for p in first_run[name].gate.published}
    assert set(published) == ALL_TABLES
    assert {t: p.delta_version for t, p in lake.publications().items() if t in ALL_TABLES} == published
    for table in ALL_TABLES:
        # what readers are served is exactly the version built
        assert lake.read_published(table).count() == lake.read_latest(table).count() > 0, table
    validations = read_validations(spark, lake.settings).where("table LIKE 'silver.%'").collect()
    assert {v["table"] for v in validations} == ALL_TABLES
    assert all(v["passed"] for v in validations)
    # the gate's relative cost is measured on every run
    assert all(first_run[name].gate_to_build > 0 for name in LIBRARY_STEPS)
    # each library records the input versions it was built from
    legal = lake.publications()["silver.legal_persons.legal_persons"]
    assert legal.inputs["silver.population.persons"] == published["silver.population.persons"]


def test_rerun_validates_nothing_and_publishes_nothing(lake, graph, first_run):
    rerun = _run(graph, lake, LIBRARY_STEPS)
    assert all(rerun[name].skipped and rerun[name].gate is None for name in LIBRARY_STEPS)


def _defective_death_file(generated: Path) -> tuple[str, bytes]:
    """A later death-records workbook with one certificate whose death precedes the birth, no ID,
    and one plausible certificate (no ID either).

    Both dates are well-formed and in range, so bronze accepts the row and standardization keeps
    them as sent: only the gate's consistency check (death not before birth) can stop it. The
    plausible row makes a new records version (the library writes only what changed: the dropped
    row alone would leave the published version the newest).
    """
    import io

    import openpyxl

    source = load_registry().sources["health_death_records"]
    (original,) = generated.joinpath("landing").rglob(source.file_pattern)
    workbook = openpyxl.load_workbook(original)
    sheet = workbook.active
    header = [c.value for c in sheet[1]]
    sheet.delete_rows(4, sheet.max_row)  # keep the header and two rows
    rows = {
        2: {
            "死亡证明编号": "20993200999999",
            "身份证号码": None,
            "姓名": "倒错者",
            "出生日期": "1990年1月1日",
            "死亡日期": "1980年1月1日",
        },
        3: {"死亡证明编号": "20993200999998", "身份证号码": None, "姓名": "常规者"},
    }
    for row, values in rows.items():
        for column, value in values.items():
            # (cell(..., value=None) would leave the old value: openpyxl only writes non-None there)
            sheet.cell(row=row, column=header.index(column) + 1).value = value
    out = io.BytesIO()
    workbook.save(out)
    relative = original.relative_to(generated / "landing").as_posix()
    name = original.name.replace("_2025", "_2099", 1)  # a new file the registry's pattern still matches
    assert name != original.name
    return relative.replace(original.name, name), out.getvalue()


def test_an_implausible_record_is_dropped_and_the_rest_published(spark, lake, graph, generated, first_run):
    from govlake import storage

    before = {t: p.delta_version for t, p in lake.publications().items()}
    relative, content = _defective_death_file(generated)
    storage.write_bytes(lake.settings, f"{lake.settings.zone('landing')}/{relative}", content)
    runs = _run(graph, lake, ["ingest.health_death_records", *LIBRARY_STEPS])
    (loaded,) = runs["ingest.health_death_records"].files
    assert loaded["rows_accepted"] == 2  # bronze takes both: the dates are well-formed

    population = runs["silver.population"]
    assert population.failed is None
    dropped = population.built["dropped"]["silver.population.person_records"]
    reversed_dates = "death_date_not_before_birth_date"
    # Only the new file was standardized and checked: its one implausible record is the only drop
    # (the earlier drops are in the quarantine already and are not counted again).
    assert dropped == {reversed_dates: 1}
    published = {p.table: p for p in population.gate.published}
    new_version = published["silver.population.person_records"].delta_version
    assert new_version > before["silver.population.person_records"]
    quarantine = lake.read_latest("quarantine.silver_population")
    (quarantined,) = quarantine.where("row_json LIKE '%倒错者%'").collect()
    assert quarantined.expectation == reversed_dates
    assert quarantined.record_key.startswith("health_death_records|") and "1980-01-01" in quarantined.row_json
    # exactly that record is missing from what is served, and no person was made of it
    served = lake.read_published("silver.population.person_records")
    assert served.where(f"record_key = '{quarantined.record_key}'").count() == 0
    assert served.where("name = '常规者'").count() == 1  # the rest of the delivery is served
    assert lake.read_published("silver.population.persons").where("name = '倒错者'").count() == 0
    # the validation and the gate's report say what was dropped and why
    outcome = next(o for o in population.gate.outcomes if o.table == "silver.population.person_records")
    assert outcome.dropped == dropped and outcome.passed
    # person_records grows file by file: the gate validated the delivery's records, not the table
    assert outcome.scope == f"appended since v{before['silver.population.person_records']}"
    assert outcome.row_count < served.count()
    assert f"DROPPED {dropped[reversed_dates]} row(s) breaking {reversed_dates}" in population.gate.report()
    # downstream libraries that read the new population but changed no row are settled too
    again = _run(graph, lake, LIBRARY_STEPS)
    assert all(run.skipped for run in again.values()), {n: r.skipped for n, r in again.items()}


def test_a_defective_build_fails_the_gate_and_the_published_version_stays(spark, lake, graph, first_run):
    from pyspark.sql import functions as F

    from jobs.pipeline.run import gate
    from jobs.quality.gate import QualityGateFailed

    before = {t: p.delta_version for t, p in lake.publications().items()}
    served_before = _served_counts(lake)
    # what a broken build would write: a second current version of one person
    path = lake.path("silver.population.persons")
    one = spark.read.format("delta").load(path).where("is_current").limit(1)
    one.withColumn("valid_from", F.current_timestamp()).write.format("delta").mode("append").save(path)

    with pytest.raises(QualityGateFailed) as failed:
        gate(graph.step("silver.population"), lake)
    (refused,) = failed.value.outcomes
    assert refused.table == "silver.population.persons"
    # the duplicated row breaks both uniqueness checks of current versions (per person, per ID number)
    assert [b.expectation_type for b in refused.blocking] == ["expect_column_values_to_be_in_set"] * 2
    for check in ("one_current_version_per_person", "one_current_person_per_id_number"):
        assert check in str(failed.value)
    assert "[fail]" in str(failed.value)
    # nothing was published; the new version exists but readers get the old one
    assert {t: p.delta_version for t, p in lake.publications().items()} == before
    assert lake.latest_version("silver.population.persons") > before["silver.population.persons"]
    assert _served_counts(lake) == served_before
    # downstream libraries keep reading the published population: nothing to rebuild
    downstream = _run(graph, lake, ["silver.legal_persons", "silver.geography"])
    assert all(run.skipped for run in downstream.values())
