"""Every HTML page the quality zone holds opens offline: a small Delta table validated into a lake of
its own (Data Docs built on each validation, then rebuilt whole), the scorecard page rendered from a
tiny frame, every page scanned for external asset references, and the Data Docs opened in headless
Chromium with every network request refused.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from browser import open_offline

from govlake import storage, web_assets
from govlake.config import Zone
from govlake.lake import Lake

pytestmark = pytest.mark.timeout(900)

TABLE = "bronze.offline_pages"


def _suite():
    import great_expectations as gx

    return gx.ExpectationSuite(
        name="bronze.offline_pages",
        expectations=[
            gx.expectations.ExpectColumnValuesToNotBeNull(column="name"),
            gx.expectations.ExpectColumnValuesToBeBetween(column="score", min_value=0, max_value=10),
            # the one GX expectation whose page draws a chart (Vega): the vendored Vega must run
            gx.expectations.ExpectColumnKLDivergenceToBeLessThan(
                column="score",
                partition_object={"bins": [0, 5, 10], "weights": [0.5, 0.5]},
                threshold=0.6,
            ),
        ],
    )


@pytest.fixture(scope="module")
def lake(spark, own_lake):
    """One failing validation (examples collected, its page rebuilt), one passing, and a scorecard page."""
    from jobs.quality.gx_runner import validate_table_version

    settings = own_lake("offline_pages")
    path = settings.table_path(Zone.BRONZE, "offline_pages")
    rows = [(f"R{i}", None if i == 1 else f"name {i}", float(i)) for i in range(1, 9)]
    frame = spark.createDataFrame(rows, "record_no string, name string, score double")
    frame.write.format("delta").save(path)
    failed = validate_table_version(spark, TABLE, path, _suite(), settings=settings)
    spark.createDataFrame(rows[1:], frame.schema).write.format("delta").mode("overwrite").save(path)
    passed = validate_table_version(spark, TABLE, path, _suite(), settings=settings)
    assert not failed.success and passed.success
    _write_scorecard_page(settings)
    return settings, failed, passed


def _write_scorecard_page(settings) -> None:
    """The scorecard page of a tiny frame, where build_scorecard puts it (scoring needs a whole lake)."""
    from datetime import UTC, datetime

    import pandas as pd

    from jobs.quality.scorecard.build import report_paths
    from jobs.quality.scorecard.indicators import INDICATORS
    from jobs.quality.scorecard.render import render

    computed_at = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    cells = pd.DataFrame(
        [
            (prefecture, "public_security", indicator.key, 9.0 - i, 10.0)
            for i, prefecture in enumerate(("3201", "3202"))
            for indicator in INDICATORS
        ],
        columns=["prefecture", "department", "indicator", "numerator", "denominator"],
    )
    cells["value"] = cells["numerator"] / cells["denominator"]
    history = cells.assign(run_id="tiny", computed_at=pd.Timestamp(computed_at.replace(tzinfo=None)))
    page, _ = render(cells, history, run_id="tiny", computed_at=computed_at)
    storage.write_bytes(settings, report_paths(Lake(settings))[0], page.encode("utf-8"))


def _files(settings, *suffixes: str) -> list[str]:
    return [f.path for f in storage.list_files(settings, settings.storage_root) if f.path.endswith(suffixes)]


def _external(settings) -> dict[str, list[str]]:
    """Every HTML page and stylesheet of the lake -> its external asset references (those with any)."""
    found = {}
    for path in _files(settings, ".html", ".css"):
        text = storage.read_bytes(settings, path).decode("utf-8")
        css = path.endswith(".css")
        refs = web_assets.external_css_references(text) if css else web_assets.external_references(text)
        if refs:
            found[path] = [str(r) for r in refs]
    return found


def _missing_local_assets(page: Path) -> list[str]:
    """The page's scripts and stylesheets that are not files where their relative paths point."""
    text = page.read_text(encoding="utf-8")
    refs = re.findall(r'<script[^>]*\ssrc="([^"]+)"', text)
    refs += re.findall(r'<link[^>]*rel="stylesheet"[^>]*href="([^"]+)"', text)
    return [r for r in refs if not (page.parent / r).resolve().is_file()]


# -------------------------------------------------------------------------- Chromium offline


class _Rows(HTMLParser):
    """Counts the rows bootstrap-table drew into the index's validation results table."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0  # > 0 inside the table
        self.rows: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table" and "ge-index-page-validation-results-table" in (a.get("class") or ""):
            self.depth = 1
        elif tag == "table" and self.depth:
            self.depth += 1
        elif tag == "tr" and self.depth and "data-index" in a:
            self.rows.append(a)

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self.depth:
            self.depth -= 1


def _open_offline(page: str, tmp_path: Path) -> tuple[str, list[str], list[str]]:
    visit = open_offline(page, tmp_path, timeout=180)
    return visit.dom, visit.requests, visit.console_errors


# ------------------------------------------------------------------------------------ tests


def test_every_page_of_the_lake_references_nothing_on_the_internet(lake):
    from jobs.quality.context import build_data_docs, data_docs_index, data_docs_root
    from jobs.quality.scorecard.build import report_paths

    settings, failed, passed = lake
    site = data_docs_root(settings)
    pages = _files(settings, ".html")
    assert f"{site}/index.html" in pages and report_paths(Lake(settings))[0] in pages
    assert [p for p in pages if "/validations/" in p and (failed.run_id in p or passed.run_id in p)]
    assert len([p for p in pages if "/validations/" in p]) == 2
    # as each validation's own Data Docs build left it
    assert _external(settings) == {}
    assert {p: _missing_local_assets(Path(p)) for p in pages} == {p: [] for p in pages}

    # and after GX rebuilds the whole site (suite pages too)
    assert build_data_docs(settings) == data_docs_index(settings)
    pages = _files(settings, ".html")
    assert any("/expectations/" in p for p in pages)
    assert _external(settings) == {}
    assert {p: _missing_local_assets(Path(p)) for p in pages} == {p: [] for p in pages}
    fonts = _files(settings, ".woff2")
    assert f"{site}/vendor/@fortawesome/fontawesome-free@6.6.0/webfonts/fa-solid-900.woff2" in fonts


def test_data_docs_work_in_chromium_with_the_network_off(lake, tmp_path):
    from jobs.quality.context import data_docs_index

    settings, failed, _ = lake
    # the check itself: a page that does load from the internet is caught
    control = tmp_path / "control.html"
    control.write_text('<html><body><img src="https://example.invalid/pixel.png"></body></html>')
    _, requests, _ = _open_offline(control.as_uri(), tmp_path)
    assert requests == ["https://example.invalid/pixel.png"]

    index = Path(data_docs_index(settings))
    dom, requests, errors = _open_offline(index.as_uri(), tmp_path)
    assert requests == [] and errors == []
    rows = _Rows()
    rows.feed(dom)
    # jQuery and bootstrap-table ran: the table has one row per validation, newest first
    assert len(rows.rows) == 2, dom[:2000]
    assert [failed.run_id in (r.get("data-href") or "") for r in rows.rows] == [False, True]
    assert 'class="bootstrap-table' in dom

    failed_page = next(p for p in _files(settings, ".html") if failed.run_id in p)
    dom, requests, errors = _open_offline(Path(failed_page).as_uri(), tmp_path)
    assert requests == [] and errors == []
    assert "vega-embed" in dom and ("<canvas" in dom or 'class="marks"' in dom)  # Vega drew the chart

    for page in set(_files(settings, ".html")) - {str(index), failed_page}:  # the scorecard too
        _, requests, errors = _open_offline(Path(page).as_uri(), tmp_path)
        assert (page, requests, errors) == (page, [], [])
