"""The analyst notebooks (notebooks/*.py, jupytext py:percent) run top to bottom on the session's
built lake, each in a fresh ipykernel, and their executed HTML copies land in the lake's
``gold.notebooks`` location as pages that load nothing from the internet."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from govlake import storage
from govlake_cli.notebooks import NOTEBOOKS, external_references, run

# On the session's built lake (~10 min to build): not part of the fast tier.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

DATA_IMAGE = re.compile(r'<img[^>]+src="data:image/png;base64,')


@pytest.fixture(scope="module")
def executed(built_lake, monkeypatch_module):
    lake = built_lake.lake
    # The kernels read the built lake (the environment is what a kernel inherits).
    monkeypatch_module.setenv("GOVLAKE_STORAGE_ROOT", lake.settings.storage_root)
    monkeypatch_module.setenv("GOVLAKE_SPARK_MASTER", "local[1]")
    monkeypatch_module.delenv("GOVLAKE_CONNECT_URL", raising=False)
    monkeypatch_module.delenv("GOVLAKE_METASTORE_URL", raising=False)
    return {result.name: result for result in run(lake)}


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_every_notebook_is_a_jupytext_percent_file() -> None:
    folder = Path(__file__).resolve().parents[2] / "notebooks"
    for name in NOTEBOOKS:
        text = (folder / f"{name}.py").read_text(encoding="utf-8")
        assert "formats: py:percent" in text and "# %%" in text, name


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_executes_with_charts_into_an_offline_page(built_lake, executed, name: str) -> None:
    result = executed[name]
    assert result.images >= 2, f"{name}: {result.images} charts"
    assert result.html == built_lake.lake.location("gold.notebooks", notebook=name)
    page = storage.read_bytes(built_lake.lake.settings, result.html).decode("utf-8")
    assert not external_references(page)
    assert not re.search(r"<(?:script|link)[^>]+(?:src|href)=", page), (
        "a page loads nothing, not even locally"
    )
    assert len(DATA_IMAGE.findall(page)) == result.images
    assert "Traceback (most recent call last)" not in page  # run() raises on a failing cell, too
