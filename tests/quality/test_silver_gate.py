"""The silver quality gate end to end on generated extracts, in a lake of its own.

A clean batch passes every silver suite and is published; a later batch with an injected defect (a
death certificate whose death precedes the birth, which standardization keeps as sent) fails the
gate, nothing of it is published, and readers are still served the previously published versions.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from govlake.registry import load_registry

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

SCALE, SEED = 60, 5
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
def own_settings(own_lake):
    """A lake of this module's own: the session lake's exact counts belong to the e2e module."""
    return own_lake("gated_lake")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from synthetic.generator import generate

    out = tmp_path_factory.mktemp("gate_generated")
    generate(out, SCALE, SEED, progress=False)
    return out


@pytest.fixture(scope="module")
def first_run(spark, own_settings, generated):
    from jobs.pipeline import build_and_gate_silver, deliver_extracts, ingest_all

    deliver_extracts(generated / "landing", own_settings)
    ingest_all(own_settings)
    return list(build_and_gate_silver(own_settings))


def _current_counts(spark, settings) -> dict[str, int]:
    from jobs.quality.gate import read_published

    return {t: read_published(spark, t, settings=settings).count() for t in ALL_TABLES}


def test_clean_batch_is_validated_and_published(spark, own_settings, first_run):
    from jobs.quality.gate import published_versions
    from jobs.quality.gx_runner import read_validations
    from jobs.quality.silver_suites import SILVER_TABLES

    assert [r.library for r in first_run] == ["population", "legal_persons", "geography"]
    published = {p.table: p.delta_version for r in first_run for p in r.gate.published}
    assert set(published) == ALL_TABLES
    assert published_versions(spark=spark, settings=own_settings) == published
    for table in SILVER_TABLES:
        # what readers are served is exactly the version built
        served = _current_counts(spark, own_settings)[table.name]
        assert served == spark.read.format("delta").load(table.path(own_settings)).count() > 0, table.name
    validations = read_validations(spark, own_settings).where("table LIKE 'silver.%'").collect()
    assert {v["table"] for v in validations} == ALL_TABLES
    assert all(v["success"] for v in validations)
    # the gate's relative cost is measured on every run
    assert all(r.build_seconds > 0 and r.gate.seconds > 0 for r in first_run)


def test_rerun_validates_nothing_and_publishes_nothing(spark, own_settings, first_run):
    from jobs.pipeline import build_and_gate_silver

    rerun = list(build_and_gate_silver(own_settings))
    assert all(not r.gate.published and not r.gate.outcomes for r in rerun)
    assert {t for r in rerun for t in r.gate.already_published} == ALL_TABLES


def _defective_death_file(generated: Path) -> tuple[str, bytes]:
    """A later death-records workbook with one certificate whose death precedes the birth, no ID.

    Both dates are well-formed and in range, so bronze accepts the row and standardization keeps
    them as sent: only the gate's consistency check (death not before birth) can stop it.
    """
    import io

    import openpyxl

    source = load_registry().sources["health_death_records"]
    (original,) = generated.joinpath("landing").rglob(source.file_pattern)
    workbook = openpyxl.load_workbook(original)
    sheet = workbook.active
    header = [c.value for c in sheet[1]]
    sheet.delete_rows(3, sheet.max_row)  # keep the header and one row
    values = {
        "死亡证明编号": "20993200999999",
        "身份证号码": None,
        "姓名": "倒错者",
        "出生日期": "1990年1月1日",
        "死亡日期": "1980年1月1日",
    }
    for column, value in values.items():
        # (cell(..., value=None) would leave the old value: openpyxl only writes non-None there)
        sheet.cell(row=2, column=header.index(column) + 1).value = value
    out = io.BytesIO()
    workbook.save(out)
    relative = original.relative_to(generated / "landing").as_posix()
    name = original.name.replace("_2025", "_2099", 1)  # a new file the registry's pattern still matches
    assert name != original.name
    return relative.replace(original.name, name), out.getvalue()


def test_defective_batch_fails_the_gate_and_the_published_version_stays(
    spark, own_settings, generated, first_run
):
    from govlake import storage
    from govlake.config import Zone
    from jobs.pipeline import build_and_gate_silver, ingest_all
    from jobs.quality.gate import QualityGateFailed, published_versions
    from jobs.quality.gx_runner import latest_version
    from jobs.quality.silver_suites import silver_tables

    before = published_versions(spark=spark, settings=own_settings)
    served_before = _current_counts(spark, own_settings)

    relative, content = _defective_death_file(generated)
    storage.write_bytes(own_settings, f"{own_settings.zone(Zone.LANDING)}/{relative}", content)
    (loaded,) = ingest_all(own_settings)
    assert loaded["rows_accepted"] == 1  # bronze takes it: both dates are well-formed

    runs = build_and_gate_silver(own_settings)
    with pytest.raises(QualityGateFailed) as failed:
        next(runs)  # population: built, then refused

    failures = {o.table: o for o in failed.value.outcomes}
    assert set(failures) == {"silver.population.person_records", "silver.population.persons"}
    persons = failures["silver.population.persons"]
    (reversed_dates,) = persons.failed
    assert reversed_dates.expectation_type == "expect_column_pair_values_a_to_be_greater_than_b"
    assert reversed_dates.unexpected_count == 1
    # the task log / exception names the expectation and shows the offending values
    assert "death_date is not before birth_date" in str(failed.value)
    assert "1980-01-01" in str(failed.value) and "1990-01-01" in str(failed.value)

    # nothing was published; the new versions exist but readers get the old ones
    assert published_versions(spark=spark, settings=own_settings) == before
    for table in silver_tables("population"):
        assert latest_version(spark, table.path(own_settings)) > before[table.name], table.name
    assert _current_counts(spark, own_settings) == served_before
    # the run stopped: the libraries after population were not rebuilt on unpublished data
    for table in silver_tables("legal_persons") + silver_tables("geography"):
        assert latest_version(spark, table.path(own_settings)) == before[table.name], table.name
