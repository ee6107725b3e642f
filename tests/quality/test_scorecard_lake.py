"""The scorecard on a small generated lake of its own: figures against the generator's truth, the page
and PNG, ``govlake quality report``, and one look at the page through headless Chromium.

Independent figures: uniqueness and accessibility from ``truth/rows.csv`` and ``truth/files.csv``;
conformity recomputed in plain Python (python-stdnum check characters, ``datetime`` parsing) over the
bronze and quarantine rows; timeliness from the files' names and the registry's cron schedules;
prefecture attribution from the household sources' row counts.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import unicodedata
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from browser import screenshot

from govlake.registry import ColumnType, load_registry

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

QUARANTINED = {"truncated_file", "truncated_row", "wrong_field_count"}


@pytest.fixture(scope="module")
def lake(built_lake):
    """The session's built lake: generated, landed, loaded, libraries built through their gates,
    scored once by the graph's quality.scorecard step."""
    return built_lake.lake.settings, built_lake.generated, built_lake.landed_between


@pytest.fixture(scope="module")
def scored(spark, built_lake):
    from govlake.registry import load_registry
    from jobs.pipeline.graph import pipeline_graph
    from jobs.pipeline.run import _run_job

    first = built_lake.runs["quality.scorecard"].output
    step = pipeline_graph(load_registry()).step("quality.scorecard")
    _, again = _run_job(step, built_lake.lake, run_id="again")  # nothing new published: no new run
    return first, again


def _truth(generated: Path, name: str) -> list[dict[str, str]]:
    with (generated / "truth" / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _history(spark, settings):
    from govlake.lake import Lake

    return Lake(settings, spark).read_latest("quality.scorecard.history")


def _totals(cells) -> dict[str, tuple[float, float]]:
    sums = cells.groupBy("indicator").sum("numerator", "denominator").collect()
    return {r["indicator"]: (r["sum(numerator)"], r["sum(denominator)"]) for r in sums}


# ------------------------------------------------------ conformity, recomputed without Spark


def _citizen_id_ok(value: str) -> bool:
    import stdnum.cn.ric as ric

    v = value.upper()
    return (
        len(v) == 18 and v[:17].isascii() and v[:17].isdigit() and ric.calc_check_digit(v) == v[17]
    )  # takes the whole ID


def _uscc_ok(value: str) -> bool:
    import stdnum.cn.uscc as uscc

    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    v = value.upper()
    return len(v) == 18 and all(c in alphabet for c in v) and uscc.calc_check_digit(v[:17]) == v[17]


def _strptime_format(spark_pattern: str) -> str:
    """The registry's Spark date patterns (yyyyMMdd, yyyy-MM-dd, yyyy/M/d, yyyy年M月d日) for strptime."""
    out = spark_pattern.replace("yyyy", "%Y").replace("MM", "%m").replace("dd", "%d")
    return out.replace("M", "%m").replace("d", "%d") if "%m" not in out else out


def _parses(value: str, kind: ColumnType, formats: tuple[str, ...]) -> bool:
    v = unicodedata.normalize("NFKC", value).strip()  # full-width digits are read as digits
    if kind is ColumnType.DATE:
        for pattern in (*formats, "yyyy-MM-dd"):
            try:
                datetime.strptime(v, _strptime_format(pattern))
                return True
            except ValueError:
                continue
        return False
    try:
        float(v.replace(",", "")) if kind is not ColumnType.INTEGER else int(v)
        return True
    except ValueError:
        return False


def _conforming_rows(spark, settings) -> int:
    from delta.tables import DeltaTable

    from govlake.lake import Lake

    registry = load_registry()
    conforming = 0
    for dataset in registry.datasets.values():
        path = Lake(settings, spark).path(f"bronze.{dataset.name}")
        if not DeltaTable.isDeltaTable(spark, path):
            continue
        formats = {s.id: s.date_formats for s in registry.sources_for(dataset.name)}
        typed = [c for c in dataset.columns if c.type is not ColumnType.STRING]
        ids = [c for c in dataset.column_names if c == "id_number" or c.endswith("_id_number")]
        codes = [c for c in dataset.column_names if c in ("uscc", "taxpayer_id") or c.endswith("_uscc")]
        for row in spark.read.format("delta").load(path).collect():
            present = {c: row[c] for c in dataset.column_names if row[c] is not None and row[c].strip()}
            ok = all(
                _parses(present[c.name], c.type, formats[row["_source_id"]])
                for c in typed
                if c.name in present
            )
            ok &= all(_citizen_id_ok(present[c]) for c in ids if c in present)
            ok &= all(_uscc_ok(present[c]) for c in codes if c in present)
            conforming += ok
    return conforming


# ------------------------------------------------------------------------------------ tests


def test_figures_match_the_truth(spark, lake, scored):
    from croniter import croniter

    settings, generated, (landed_from, landed_until) = lake
    first, again = scored
    history = _history(spark, settings)
    assert history.select("run_id").distinct().count() == 1 and history.count() == first.cells
    assert again.unchanged and again.run_id == first.run_id and again.province == first.province
    totals = _totals(history)
    rows, files = _truth(generated, "rows.csv"), _truth(generated, "files.csv")
    accepted = [r for r in rows if r["invalid_reason"] not in QUARANTINED]

    # conformity: every row received is scored; the conforming ones, recomputed in Python
    conforming = _conforming_rows(spark, settings)
    assert totals["conformity"] == (conforming, len(rows))
    # ...and every row the generator made invalid is among the non-conforming ones
    assert conforming <= sum(r["valid"] == "true" for r in rows)

    # uniqueness: repeats are the generator's exact duplicates of an accepted row
    assert totals["uniqueness"] == (
        len(accepted) - sum(bool(r["duplicate_of"]) for r in accepted),
        len(accepted),
    )

    # accessibility: the truncated files are the ones that cannot be read
    assert totals["accessibility"] == (sum(f["truncated"] != "true" for f in files), len(files))

    # timeliness: every file is dated in its name and landed during the fixture; due at the
    # schedule's first run (China Standard Time) after its day, allowed one schedule period
    registry, cst = load_registry(), ZoneInfo("Asia/Shanghai")
    on_time = []
    for bound in (landed_from, landed_until):
        landed = bound.astimezone(cst).replace(tzinfo=None, microsecond=0)
        count = 0
        for f in files:
            day = datetime.strptime(re.search(r"20\d{6}", f["file"]).group(0), "%Y%m%d")
            runs = croniter(registry.sources[f["source_id"]].schedule, day + timedelta(days=1, seconds=-1))
            due = runs.get_next(datetime)
            count += landed <= due + (runs.get_next(datetime) - due)
        on_time.append(count)
    assert on_time[0] == on_time[1], "a deadline fell while the files were landing: rerun"
    assert totals["timeliness"] == (on_time[0], len(files))

    # attribution: a prefecture's public-security cells hold exactly its household source's rows
    public_security = {
        r["prefecture"]: r["denominator"]
        for r in history.where("department = 'public_security' AND indicator = 'conformity'").collect()
    }
    by_source = {p: sum(r["source_id"] == f"ps_{p}_household" for r in rows) for p in public_security}
    assert public_security == by_source and len(public_security) >= 5

    # every value is a share and every indicator is scored, accuracy against the libraries included
    assert history.where("value < 0 OR (value > 1 AND indicator != 'lateness_days')").count() == 0
    assert set(first.province) == {
        "conformity",
        "completeness",
        "accuracy",
        "consistency",
        "timeliness",
        "accessibility",
        "uniqueness",
    }
    assert 0.5 < first.province["accuracy"] <= 1 and 0.5 < first.province["consistency"] <= 1
    departments = {r["department"] for r in history.where("indicator = 'accuracy'").collect()}
    assert {"public_security", "health", "hrss", "civil_affairs", "market_regulation"} <= departments


def test_report_command_prints_where_everything_is(spark, lake, scored, monkeypatch):
    from typer.testing import CliRunner

    from govlake import storage
    from govlake_cli.main import app
    from jobs.quality.context import data_docs_index

    settings, _, _ = lake
    monkeypatch.setenv("GOVLAKE_STORAGE_ROOT", settings.storage_root)
    listed = CliRunner().invoke(app, ["quality", "report"])
    assert listed.exit_code == 0, listed.output
    html_path, png_path, docs = scored[0].html_path, scored[0].png_path, data_docs_index(settings)
    assert storage.exists(settings, docs)  # the gates built Data Docs
    for line in (f"scorecard page   {html_path}", f"scorecard image  {png_path}", f"{docs}\n"):
        assert line in listed.output, listed.output
    assert "not there yet" not in listed.output
    assert _history(spark, settings).select("run_id").distinct().count() == 1  # printing computes nothing

    # nothing was published since the first run: refreshing finds the lake unchanged, adds no run
    refreshed = CliRunner().invoke(app, ["quality", "report", "--refresh"])
    assert refreshed.exit_code == 0, refreshed.output
    assert f"scorecard unchanged: nothing was published since run {scored[0].run_id}" in refreshed.output
    assert _history(spark, settings).select("run_id").distinct().count() == 1


def test_page_and_png_carry_the_figures_and_chromium_draws_the_page(spark, lake, scored, tmp_path):
    from PIL import Image

    from govlake import storage
    from jobs.quality.scorecard.indicators import INDICATORS

    settings, _, _ = lake
    result = scored[0]
    page = storage.read_bytes(settings, result.html_path).decode("utf-8")
    history = _history(spark, settings)
    latest = history.orderBy(history["computed_at"].desc()).first()["run_id"]  # the page shows it
    totals = _totals(history.where(history["run_id"] == latest))
    for indicator in INDICATORS:
        n, d = totals[indicator.key]
        # the name, the figure with its counts, and the definition sit in one row of the table
        row = page[page.index(f"<tr><th>{indicator.name_zh} {indicator.name_en}</th>") :].split("</tr>")[0]
        assert f"{n / d:.3f}" in row and f"{n:,.0f} / {d:,.0f}" in row, row
        assert indicator.definition.split(":")[0] in row
    for words in ("League table", "排名", "南京市", "Prefecture × department", f"Run <code>{latest}</code>"):
        assert words in page, words
    assert "http://" not in page and "https://" not in page  # self-contained: nothing to fetch
    assert page.count("data:image/png;base64,") == 4

    folder = result.html_path.rsplit("/", 1)[0]
    assert not storage.exists(settings, f"{folder}/_delta_log/{0:020d}.json")  # VACUUM would delete the page
    png = Image.open(result.png_path)
    assert png.width > 1000 and len(png.getcolors(1 << 20) or []) > 50

    shot = screenshot(Path(result.html_path).as_uri(), tmp_path / "scorecard_screenshot.png", tmp_path)
    assert shot.stat().st_size > 10_000
    image = Image.open(shot).convert("RGB")
    assert image.size == (1400, 2000)
    assert len(image.getcolors(1 << 20) or []) > 50  # not one colour: text, tables and charts drawn
    if keep := os.environ.get("GOVLAKE_KEEP_SCREENSHOT"):  # for a human to look at
        shutil.copy(shot, keep)
