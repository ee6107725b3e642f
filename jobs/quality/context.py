"""The Great Expectations data context of the quality gate.

``expectations/great_expectations.yml`` is the one versioned description of the GX project. Its
runtime stores (validation results, checkpoints, validation definitions) and its Data Docs site point
at ``${GOVLAKE_GX_RUNTIME}``, which is ``<quality zone>/gx`` of the lake ``govlake.config`` describes.

Pipelines use :func:`runtime_context`: an in-memory (ephemeral) context built from that file, because
a file-backed context rewrites ``great_expectations.yml`` every time a data source is added (and
validating a Spark DataFrame needs one). In it

* validation results and Data Docs are written to the quality zone (local folder or S3);
* suites, checkpoints and validation definitions are held in memory: suites are read from the JSON in
  git for each run (:mod:`jobs.quality.suites`) and never written back, and checkpoints / validation
  definitions are per-run wiring with nothing worth keeping.

:func:`open_project` opens the same project as a FileDataContext for a person at a prompt.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import yaml

from govlake import web_assets
from govlake.config import Settings, load_settings
from jobs.quality.suites import GX_PROJECT_DIR

if TYPE_CHECKING:
    from great_expectations.data_context import AbstractDataContext, FileDataContext

GX_YML = GX_PROJECT_DIR / "great_expectations.yml"
RUNTIME_VARIABLE = "GOVLAKE_GX_RUNTIME"
DOCS_SITE = "local_site"
DATASOURCE = "govlake_spark"

_IN_MEMORY = {"class_name": "InMemoryStoreBackend"}
_IN_MEMORY_STORES = ("expectations_store", "checkpoint_store", "validation_definition_store")
_VAR = re.compile(r"\$\{" + RUNTIME_VARIABLE + r"\}")

_lock = threading.RLock()
_contexts: dict[str, AbstractDataContext] = {}


def gx_runtime_root(settings: Settings | None = None) -> str:
    """Where GX's runtime output goes: ``<quality zone>/gx`` (the catalogue's ``quality.gx``)."""
    from govlake.lake import Lake

    return Lake(settings or load_settings()).location("quality.gx")


def _substitute(obj: Any, runtime_root: str) -> Any:
    if isinstance(obj, dict):
        return {k: _substitute(v, runtime_root) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_substitute(v, runtime_root) for v in obj]
    if isinstance(obj, str):
        return _VAR.sub(runtime_root.rstrip("/"), obj)
    return obj


def _s3_backend(settings: Settings, location: str) -> dict[str, Any]:
    """The lake's own store backend for ``s3a://bucket/prefix`` (GX 1.x has no S3 backend of its own)."""
    return {
        "module_name": "jobs.quality.gx_store",
        "class_name": "LakeStoreBackend",
        "storage_root": settings.storage_root,
        "base_location": location,
    }


def runtime_project_config(settings: Settings | None = None) -> dict[str, Any]:
    """The project config pipelines run with: the versioned file, resolved for this lake."""
    settings = settings or load_settings()
    with GX_YML.open(encoding="utf-8") as fh:
        config = _substitute(yaml.safe_load(fh), gx_runtime_root(settings))
    for name in _IN_MEMORY_STORES:
        config["stores"][name]["store_backend"] = dict(_IN_MEMORY)
    if settings.is_s3:
        backends = [config["stores"]["validation_results_store"]["store_backend"]]
        backends += [site["store_backend"] for site in config.get("data_docs_sites", {}).values()]
        for backend in backends:
            location = backend.pop("base_directory")
            backend.clear()
            backend.update(_s3_backend(settings, location))
    return config


def runtime_context(settings: Settings | None = None) -> AbstractDataContext:
    """The process's GX context for this lake (created once, then reused)."""
    settings = settings or load_settings()
    key = gx_runtime_root(settings)
    with _lock:
        context = _contexts.get(key)
        if context is None:
            import great_expectations as gx

            from jobs.quality.gx_store import register_settings

            register_settings(settings)
            context = gx.get_context(mode="ephemeral", project_config=runtime_project_config(settings))
            context.data_sources.add_spark(DATASOURCE, persist=False)  # the runner caches, and unpersists
            _contexts[key] = context
        return context


def context_lock() -> threading.RLock:
    """Held while a validation registers objects in and runs through the shared context."""
    return _lock


def open_project(settings: Settings | None = None) -> FileDataContext:
    """The versioned project as a FileDataContext, runtime output resolved to this lake's quality zone.

    For interactive use (browse suites, rebuild Data Docs: then run :func:`make_data_docs_offline`, or
    use :func:`build_data_docs`). Adding a data source to it rewrites
    ``expectations/great_expectations.yml``; pipelines use :func:`runtime_context` instead.
    """
    import great_expectations as gx

    settings = settings or load_settings()
    if settings.is_s3:
        raise NotImplementedError("open_project() supports a local lake; pipelines use runtime_context()")
    return gx.get_context(
        mode="file",
        context_root_dir=str(GX_PROJECT_DIR),
        runtime_environment={RUNTIME_VARIABLE: gx_runtime_root(settings)},
    )


def data_docs_index(settings: Settings | None = None) -> str:
    """Path (local lake) or ``s3a://`` URI of the Data Docs site's index.html in the quality zone."""
    config = runtime_project_config(settings)
    backend = config["data_docs_sites"][DOCS_SITE]["store_backend"]
    location = backend.get("base_directory") or backend["base_location"]
    return f"{location.rstrip('/')}/index.html"


def build_data_docs(settings: Settings | None = None) -> str:
    """Rebuild the whole Data Docs site from the stored validation results; return the index path."""
    with _lock:
        context = runtime_context(settings)
        context.build_data_docs(site_names=[DOCS_SITE])
        make_data_docs_offline(settings)
    return data_docs_index(settings)


# GX's templates load Bootstrap, jQuery, bootstrap-table, Font Awesome, Vega... from public CDNs and
# its navbar logo from its own web server; offline, the index is two links and nothing else. After
# every build the pages are pointed at copies inside the site (govlake.web_assets).
_GX_WEB_ASSETS = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/"
#: External URLs the site already holds a copy of: GX writes its static/images into every site. GX
#: ships no dark-mode logo (full_logo_dark.png): the light one stands in.
GX_SITE_FILES = {
    f"{_GX_WEB_ASSETS}logo-long.png": "static/images/logo-long.png",
    f"{_GX_WEB_ASSETS}full_logo_dark.png": "static/images/logo-long.png",
}
#: GX's stylesheets, rewritten into the site on every build (the pages inline them; the files stay).
GX_STYLESHEETS = (
    "static/styles/data_docs_default_styles.css",
    "static/styles/data_docs_custom_styles_template.css",
)


def data_docs_root(settings: Settings | None = None) -> str:
    """Path or ``s3a://`` URI of the Data Docs site's folder."""
    return data_docs_index(settings).rsplit("/", 1)[0]


def _site_page(context: AbstractDataContext, resource_identifier: Any) -> str | None:
    """The site-relative path of the Data Docs page of ``resource_identifier``."""
    index = context.get_docs_sites_urls(site_name=DOCS_SITE, only_if_exists=False)
    page = context.get_docs_sites_urls(
        resource_identifier=resource_identifier, site_name=DOCS_SITE, only_if_exists=False
    )
    if not index or not page or not index[0]["site_url"] or not page[0]["site_url"]:
        return None
    base = index[0]["site_url"].rsplit("/", 1)[0] + "/"
    url = page[0]["site_url"]
    return unquote(url[len(base) :]) if url.startswith(base) else None


def make_data_docs_offline(
    settings: Settings | None = None,
    *,
    context: AbstractDataContext | None = None,
    resource_identifiers: Iterable[Any] | None = None,
) -> web_assets.OfflineSite:
    """Point the Data Docs pages at the site's own copies of their scripts, styles, fonts and logo.

    With ``resource_identifiers`` (and the ``context`` that built them), only what a build for them
    rewrote: the index, their pages and GX's stylesheets; otherwise every page of the site.
    """
    settings = settings or load_settings()
    pages: list[str] | None = None
    if resource_identifiers is not None and context is not None:
        found = [_site_page(context, r) for r in resource_identifiers]
        if all(found):  # a page GX could not name: process the whole site instead
            pages = ["index.html", *(p for p in found if p), *GX_STYLESHEETS]
    return web_assets.make_site_offline(
        settings, data_docs_root(settings), pages=pages, site_files=GX_SITE_FILES
    )
