"""``govlake notebooks``: execute the analyst notebooks, each into one offline HTML page in the lake.

    govlake notebooks                      # every notebook, into the gold.notebooks location
    govlake notebooks population_overview  # one

A notebook is a jupytext ``py:percent`` file of this folder, run top to bottom by nbclient on a
fresh ipykernel in the repo (it reads the lake through :mod:`notebooks.lakedata`); the result is
converted by nbconvert's lab template without its CDN scripts (require.js, MathJax, Mermaid: the
notebooks use none of them) and with every chart embedded as a PNG data URI, so the page opens
offline. Where it lands: ``gold/notebooks/<name>.html`` of the lake (location ``gold.notebooks``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from govlake.config import REPO_ROOT

FOLDER = REPO_ROOT / "notebooks"
NOTEBOOKS = ("population_overview", "enterprise_demography", "data_quality_trend")
LOCATION = "gold.notebooks"
#: nbconvert's lab page without the blocks that load scripts from a CDN.
OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""


class NotebookFailed(RuntimeError):
    """A notebook's cell raised, or its page would load something from the internet."""


@dataclass(frozen=True)
class ExecutedNotebook:
    name: str
    html: str  # where the page was written
    cells: int
    images: int
    seconds: float


def external_references(html: str) -> list[str]:
    """What the page would fetch from another host, by the lake's one guard (govlake.web_assets:
    tags, srcset, CSS url() and @import, markup written by scripts; hyperlinks are not fetches)."""
    from govlake import web_assets

    return [str(reference) for reference in web_assets.external_references(html)]


def execute(name: str, timeout: int = 600) -> Any:  # -> nbformat.NotebookNode
    """The notebook ``name`` executed (an nbformat notebook); :class:`NotebookFailed` if a cell raises."""
    import jupytext
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    notebook = jupytext.read(FOLDER / f"{name}.py", fmt="py:percent")
    client = NotebookClient(
        notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(REPO_ROOT)}}
    )
    try:
        client.execute()
    except CellExecutionError as error:
        raise NotebookFailed(f"notebook {name} failed: {error}") from error
    return notebook


def to_html(notebook: Any, name: str) -> str:
    import jinja2
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab",
        template_file="offline.html.j2",
        extra_loaders=[jinja2.DictLoader({"offline.html.j2": OFFLINE_TEMPLATE})],
        embed_images=True,
    )
    notebook.metadata["title"] = name.replace("_", " ").capitalize()
    html, _ = exporter.from_notebook_node(notebook)
    if found := external_references(html):
        raise NotebookFailed(f"notebook {name}'s page references the internet: {found[:3]}")
    return html


def run(lake: Any, names: Iterable[str] = NOTEBOOKS) -> list[ExecutedNotebook]:
    """Execute each notebook against the lake the environment names and write its page there."""
    from govlake import storage

    done = []
    for name in names:
        started = time.perf_counter()
        notebook = execute(name)
        html = to_html(notebook, name)
        target = lake.location(LOCATION, notebook=name)
        storage.write_bytes(lake.settings, target, html.encode("utf-8"))
        outputs = [o for cell in notebook.cells for o in cell.get("outputs", [])]
        images = sum("image/png" in o.get("data", {}) for o in outputs)
        seconds = time.perf_counter() - started
        done.append(ExecutedNotebook(name, target, len(notebook.cells), images, seconds))
    return done


def notebooks_command(
    names: Annotated[list[str] | None, typer.Argument(help="notebook names (default: all)")] = None,
) -> None:
    """Execute the analyst notebooks (notebooks/*.py) on the published tables; write offline HTML pages."""
    from govlake.config import ConfigError, load_settings
    from govlake.lake import Lake

    if unknown := sorted(set(names or ()) - set(NOTEBOOKS)):
        raise ConfigError(f"no notebook {', '.join(unknown)}: {', '.join(NOTEBOOKS)}")
    lake = Lake(load_settings())
    for result in run(lake, names or NOTEBOOKS):
        typer.echo(f"{result.name}: {result.cells} cells, {result.images} charts, {result.seconds:.1f}s")
        typer.echo(f"  -> {result.html}")
