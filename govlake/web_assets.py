"""Front-end files for the lake's HTML pages, served from the site itself: no page loads from the internet.

Government desks are often on isolated networks, so a page that loads its scripts, styles or fonts
from a public CDN opens there without them. Pages from other tools (Great Expectations' Data Docs,
later dbt docs and a catalog portal) are therefore post-processed where they are written:

* :data:`CDN_FILES` names, for every CDN address a known page template uses, the npm package file that
  replaces it. Those packages are pinned in ``infra/web-assets/package.json`` (and its lock) and
  installed by ``infra/install.sh`` into ``infra/web-assets/node_modules`` (git-ignored); nothing is
  downloaded at run time.
* :func:`make_site_offline` copies the files a site's pages need into ``<site>/vendor/`` (a local
  folder or ``s3a://``, through :mod:`govlake.storage`), points the pages at them with relative paths,
  and neutralises any external asset reference it has no local copy for.
* :func:`external_references` lists the external asset references left in a page;
  :func:`scan_site` does that for every page and stylesheet of a site.

What counts as an external asset reference: a URL that the browser fetches by itself while showing
the page, without the reader choosing to follow it, and that points off the machine — an absolute
``http:``/``https:`` URL or a scheme-relative ``//host/...`` one. Precisely:

* the URL attributes in :data:`ASSET_ATTRIBUTES` (``<script src>``, ``<link href>`` of any ``rel``,
  ``<img src/srcset>``, ``<iframe src>``, media sources, ``<object data>``, SVG ``<image href>``...),
  the legacy ``background`` attribute of any element, ``<base href>`` (it would make every relative
  path external) and a ``<meta http-equiv="refresh">`` target;
* CSS ``url(...)`` and ``@import`` in ``<style>`` elements, in ``style`` attributes, and in
  stylesheet files;
* the same markup written inside an inline ``<script>`` (e.g. the HTML strings a table library turns
  into rows): reported, not rewritten.

Not counted: hyperlinks (``<a href>``, ``<area href>``, ``<form action>``: navigation a reader
chooses), URLs in text, XML namespace names, ``data:`` and relative URLs, and URLs that script code
builds or fetches by itself (code is not evaluated; the headless-browser test with the network off
covers that).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import logging
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

from govlake import storage
from govlake.config import Settings

log = logging.getLogger("govlake.web_assets")

#: Where infra/install.sh installs the pinned npm packages (``npm ci`` in infra/web-assets).
WEB_ASSETS_DIR = Path(__file__).resolve().parents[1] / "infra" / "web-assets"
NODE_MODULES = WEB_ASSETS_DIR / "node_modules"
#: The folder, under a site's root, that holds the copied files.
VENDOR_DIR = "vendor"


@dataclass(frozen=True)
class NpmFile:
    """One file of one pinned npm package."""

    package: str
    version: str
    path: str  # inside the package

    @property
    def site_path(self) -> str:
        """Where the file goes in a site (versioned, so a path's content never changes)."""
        return f"{VENDOR_DIR}/{self.package}@{self.version}/{self.path}"

    def source(self) -> Path:
        return NODE_MODULES / self.package / self.path


def _npm(package: str, version: str, path: str) -> NpmFile:
    return NpmFile(package, version, path)


#: Every CDN address that Great Expectations 1.24's Data Docs templates reference
#: (great_expectations/render/view/templates/*.j2) -> the npm file served instead. Versions are GX's,
#: except: ``vega@5``, ``vega-lite@5`` and ``vega-embed@6`` name only a major version (the CDN serves
#: its newest), pinned here to the newest of each major when this table was written; and bootstrap-table
#: 1.19.0's filter-control stylesheets come from 1.19.1 (the .css is byte-identical, the .min.css differs
#: only in its version comment). infra/web-assets/package.json pins the same versions.
_CDNJS = "https://cdnjs.cloudflare.com/ajax/libs"
_FILTER_CONTROL = "dist/extensions/filter-control/bootstrap-table-filter-control"
CDN_FILES: Mapping[str, NpmFile] = {
    "https://cdn.jsdelivr.net/npm/vega@5": _npm("vega", "5.33.1", "build/vega.min.js"),
    "https://cdn.jsdelivr.net/npm/vega-lite@5": _npm("vega-lite", "5.23.0", "build/vega-lite.min.js"),
    "https://cdn.jsdelivr.net/npm/vega-embed@6": _npm("vega-embed", "6.29.0", "build/vega-embed.min.js"),
    f"{_CDNJS}/font-awesome/6.6.0/css/all.min.css": _npm(
        "@fortawesome/fontawesome-free", "6.6.0", "css/all.min.css"
    ),
    "https://code.jquery.com/jquery-3.7.1.min.js": _npm("jquery", "3.7.1", "dist/jquery.min.js"),
    f"{_CDNJS}/popper.js/1.12.9/umd/popper.min.js": _npm("popper.js", "1.12.9", "dist/umd/popper.min.js"),
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": _npm(
        "bootstrap", "4.3.1", "dist/js/bootstrap.min.js"
    ),
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": _npm(
        "bootstrap", "4.3.1", "dist/css/bootstrap.min.css"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": _npm(
        "bootstrap-table", "1.19.1", "dist/bootstrap-table.min.js"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": _npm(
        "bootstrap-table", "1.19.1", "dist/bootstrap-table.min.css"
    ),
    f"https://unpkg.com/bootstrap-table@1.19.1/{_FILTER_CONTROL}.min.js": _npm(
        "bootstrap-table", "1.19.1", f"{_FILTER_CONTROL}.min.js"
    ),
    f"https://unpkg.com/bootstrap-table@1.19.0/{_FILTER_CONTROL}.css": _npm(
        "bootstrap-table", "1.19.1", f"{_FILTER_CONTROL}.css"
    ),
    f"https://unpkg.com/bootstrap-table@1.19.0/{_FILTER_CONTROL}.min.css": _npm(
        "bootstrap-table", "1.19.1", f"{_FILTER_CONTROL}.min.css"
    ),
    f"{_CDNJS}/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js": _npm(
        "bootstrap-datepicker", "1.9.0", "dist/js/bootstrap-datepicker.min.js"
    ),
    f"{_CDNJS}/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css": _npm(
        "bootstrap-datepicker", "1.9.0", "dist/css/bootstrap-datepicker.min.css"
    ),
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css": _npm(
        "@forevolve/bootstrap-dark", "1.1.0", "dist/css/bootstrap-prefers-dark.css"
    ),
}

#: Element -> its attributes that hold a URL the browser fetches by itself. ``<link>`` counts
#: whatever its ``rel`` (stylesheets, icons, preload and preconnect all reach out).
ASSET_ATTRIBUTES: Mapping[str, frozenset[str]] = {
    "script": frozenset({"src"}),
    "link": frozenset({"href"}),
    "img": frozenset({"src", "srcset"}),
    "iframe": frozenset({"src"}),
    "frame": frozenset({"src"}),
    "embed": frozenset({"src"}),
    "audio": frozenset({"src"}),
    "video": frozenset({"src", "poster"}),
    "source": frozenset({"src", "srcset"}),
    "track": frozenset({"src"}),
    "input": frozenset({"src"}),
    "object": frozenset({"data"}),
    "image": frozenset({"href", "xlink:href"}),
    "use": frozenset({"href", "xlink:href"}),
    "feimage": frozenset({"href", "xlink:href"}),
    "base": frozenset({"href"}),
}
#: Attributes that are an asset URL on any element.
ANY_ELEMENT_ASSET_ATTRIBUTES = frozenset({"background"})
#: Attributes that only make sense with the network: dropped when a reference is made local
#: (over file:// a ``crossorigin`` fetch is a CORS request from origin "null" and is refused, and
#: ``integrity`` needs one; the local file is checked against ``integrity`` before it is dropped).
NETWORK_ONLY_ATTRIBUTES = frozenset({"integrity", "crossorigin"})
#: The prefix a neutralised attribute gets: ``src=`` becomes ``data-offline-blocked-src=`` (inert).
BLOCKED_PREFIX = "data-offline-blocked-"

_EXTERNAL = re.compile(r"^\s*(?:https?:)?//", re.IGNORECASE)
_CSS_IMPORT = re.compile(
    r"""@import\s+(?:url\(\s*(?P<q1>["']?)(?P<u1>[^"')]*)(?P=q1)\s*\)|(?P<q2>["'])(?P<u2>[^"']*)(?P=q2))[^;]*;?""",
    re.IGNORECASE,
)
_CSS_URL = re.compile(r"""url\(\s*(?P<q>["']?)(?P<url>[^"')]*)(?P=q)\s*\)""", re.IGNORECASE)
_ATTRIBUTE = re.compile(
    r"""(?P<space>\s+)(?P<name>[^\s"'>/=]+)(?:(?P<eq>\s*=\s*)(?P<value>"[^"]*"|'[^']*'|[^\s"'=<>`]+))?"""
)
_META_REFRESH_URL = re.compile(r"url\s*=\s*['\"]?(?P<url>[^'\";]+)", re.IGNORECASE)
_MARKUP = re.compile(r"<(?P<tag>[a-zA-Z][a-zA-Z0-9:-]*)\b[^<>]*>")


class WebAssetsMissing(RuntimeError):
    """The pinned npm packages are not installed (or not at the pinned version)."""


@dataclass(frozen=True)
class ExternalReference:
    """One external asset reference in a page or stylesheet."""

    url: str
    where: str  # e.g. "<script src>", "CSS url()", "CSS @import", "markup in <script>"
    line: int

    def __str__(self) -> str:
        return f"line {self.line}: {self.where} {self.url}"


def is_external(url: str) -> bool:
    """An absolute http(s) URL or a scheme-relative ``//host/...`` one."""
    return bool(_EXTERNAL.match(url))


def normalized(url: str) -> str:
    """The form URLs are looked up in: scheme and host lower-cased, ``http:`` as ``https:``, no query
    or fragment (GX appends ``?d=<data context id>`` to its logo's address)."""
    parts = urlsplit(url.strip())
    return f"https://{parts.netloc.lower()}{parts.path}"


_CDN_BY_URL = {normalized(url): npm_file for url, npm_file in CDN_FILES.items()}


def cdn_file(url: str) -> NpmFile | None:
    """The npm file that replaces a CDN address (compared in :func:`normalized` form), if any."""
    return _CDN_BY_URL.get(normalized(url))


# ---------------------------------------------------------------------------------- CSS


def _line_of(text: str, offset: int, first_line: int) -> int:
    return first_line + text.count("\n", 0, offset)


def _css_matches(css: str) -> list[tuple[int, int, str, str, bool]]:
    """(start, end, url, kind, is_import) for each @import and url() of ``css``, in order."""
    found: list[tuple[int, int, str, str, bool]] = []
    imports = []
    for m in _CSS_IMPORT.finditer(css):
        url = m.group("u1") if m.group("u1") is not None else m.group("u2")
        found.append((m.start(), m.end(), url, "CSS @import", True))
        imports.append((m.start(), m.end()))
    for m in _CSS_URL.finditer(css):
        if not any(start <= m.start() < end for start, end in imports):
            found.append((m.start(), m.end(), m.group("url"), "CSS url()", False))
    return sorted(found)


def external_css_references(css: str, *, first_line: int = 1) -> list[ExternalReference]:
    """The external ``url()`` and ``@import`` references of a stylesheet (or a style attribute)."""
    return [
        ExternalReference(url.strip(), kind, _line_of(css, start, first_line))
        for start, _, url, kind, _ in _css_matches(css)
        if is_external(url)
    ]


def _comment_safe(text: str) -> str:
    return text.replace("*/", "* /")


def rewrite_css(
    css: str, local: Callable[[str], str | None], *, first_line: int = 1
) -> tuple[str, list[ExternalReference]]:
    """``css`` with each external reference replaced by ``local(url)`` (a relative URL), or
    neutralised when that is None. Returns the new text and the references neutralised."""
    out: list[str] = []
    blocked: list[ExternalReference] = []
    last = 0
    for start, end, url, kind, is_import in _css_matches(css):
        url = url.strip()
        if not is_external(url):
            continue
        out.append(css[last:start])
        target = local(url)
        if target is not None:
            out.append(css[start:end].replace(url, target, 1))
        else:
            blocked.append(ExternalReference(url, kind, _line_of(css, start, first_line)))
            if is_import:
                out.append(f"/* offline: @import of {_comment_safe(url)} removed */")
            else:
                out.append(f'url("data:,") /* offline: was {_comment_safe(url)} */')
        last = end
    out.append(css[last:])
    return "".join(out), blocked


def relative_css_dependencies(css: str) -> list[str]:
    """The relative URLs a stylesheet loads (fonts, images, imports), without query or fragment."""
    deps = []
    for _, _, url, _, _ in _css_matches(css):
        url = url.strip()
        if not url or is_external(url) or url.startswith(("data:", "#", "/")):
            continue
        path = urlsplit(url).path
        if path:
            deps.append(path)
    return deps


# ---------------------------------------------------------------------------------- HTML


@dataclass(frozen=True)
class _Tag:
    name: str
    attrs: tuple[tuple[str, str | None], ...]
    start: int  # offset of "<"
    end: int  # offset after ">"
    line: int
    raw_text_end: int | None = None  # for <script>/<style>: offset of the closing tag


class _TagCollector(HTMLParser):
    """Every start tag with its offsets; the content of <script> and <style> as raw text."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.text = text
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.tags: list[_Tag] = []

    def _offset(self) -> int:
        line, column = self.getpos()
        return self.line_starts[line - 1] + column

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        start = self._offset()
        raw = self.get_starttag_text() or ""
        end = start + len(raw)
        raw_text_end = None
        if tag in ("script", "style"):
            close = re.compile(rf"</{tag}\s*>", re.IGNORECASE).search(self.text, end)
            raw_text_end = close.start() if close else len(self.text)
        self.tags.append(_Tag(tag, tuple(attrs), start, end, self.getpos()[0], raw_text_end))

    handle_startendtag = handle_starttag


def _tags(page: str) -> list[_Tag]:
    collector = _TagCollector(page)
    collector.feed(page)
    collector.close()
    return collector.tags


def _srcset_urls(value: str) -> list[str]:
    return [c.strip().split()[0] for c in value.split(",") if c.strip()]


def _attribute_urls(tag: str, name: str, value: str | None, attrs: Mapping[str, str | None]) -> list[str]:
    """The URLs an attribute makes the browser fetch (none for a plain hyperlink)."""
    if value is None:
        return []
    if name in ASSET_ATTRIBUTES.get(tag, ()) or name in ANY_ELEMENT_ASSET_ATTRIBUTES:
        return _srcset_urls(value) if name == "srcset" else [value.strip()]
    if tag == "meta" and name == "content" and (attrs.get("http-equiv") or "").lower() == "refresh":
        m = _META_REFRESH_URL.search(value)
        return [m.group("url").strip()] if m else []
    return []


def _tag_references(tag: _Tag, where_prefix: str = "") -> list[ExternalReference]:
    refs = []
    attrs = dict(tag.attrs)
    for name, value in tag.attrs:
        for url in _attribute_urls(tag.name, name, value, attrs):
            if is_external(url):
                refs.append(ExternalReference(url, f"{where_prefix}<{tag.name} {name}>", tag.line))
        if name == "style" and value:
            for ref in external_css_references(value, first_line=tag.line):
                refs.append(
                    ExternalReference(ref.url, f"{where_prefix}{ref.where} in a style attribute", tag.line)
                )
    return refs


def _markup_in_script(script: str, first_line: int) -> list[ExternalReference]:
    """External asset references in HTML written inside script code (quotes unescaped first)."""
    refs = []
    for m in _MARKUP.finditer(script):
        snippet = m.group(0).replace('\\"', '"').replace("\\'", "'").replace("\\/", "/")
        for tag in _tags(snippet):
            for ref in _tag_references(tag):
                line = _line_of(script, m.start(), first_line)
                refs.append(ExternalReference(ref.url, f"markup in <script>: {ref.where}", line))
    return refs


def external_references(page: str) -> list[ExternalReference]:
    """Every external asset reference left in an HTML page (see the module docstring for what counts)."""
    refs: list[ExternalReference] = []
    for tag in _tags(page):
        refs += _tag_references(tag)
        if tag.raw_text_end is not None:
            body = page[tag.end : tag.raw_text_end]
            first_line = _line_of(page, tag.end, 1)
            if tag.name == "style":
                refs += external_css_references(body, first_line=first_line)
            elif not dict(tag.attrs).get("src"):
                refs += _markup_in_script(body, first_line)
    return refs


def matches_integrity(data: bytes, integrity: str) -> bool:
    """Whether ``data`` matches one of the hashes of an ``integrity`` attribute."""
    for token in integrity.split():
        algorithm, _, expected = token.partition("-")
        if algorithm in ("sha256", "sha384", "sha512"):
            digest = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
            if digest == expected.split("?")[0]:
                return True
    return False


@dataclass
class RewrittenPage:
    """The result of :func:`rewrite_page` or :func:`rewrite_stylesheet`."""

    text: str
    used: set[str] = field(default_factory=set)  # site-relative paths of the local copies pointed at
    blocked: list[ExternalReference] = field(default_factory=list)  # neutralised: no local copy
    unresolved: list[ExternalReference] = field(default_factory=list)  # left as they are (in scripts)


#: An external URL -> the site-relative path of its local copy, or None when there is none.
Resolver = Callable[[str], "str | None"]


def _relative(target: str, page: str) -> str:
    """``target`` (site-relative) as a relative URL from the page at ``page`` (site-relative)."""
    return posixpath.relpath(target, posixpath.dirname(page) or ".")


def _localizer(resolve: Resolver, page: str, result: RewrittenPage) -> Callable[[str], str | None]:
    def local(url: str) -> str | None:
        target = resolve(url)
        if target is None:
            return None
        result.used.add(target)
        return _relative(target, page)

    return local


def rewrite_stylesheet(css: str, path: str, resolve: Resolver) -> RewrittenPage:
    """A stylesheet file at ``path`` (site-relative) with its external references made local."""
    result = RewrittenPage(css)
    result.text, result.blocked = rewrite_css(css, _localizer(resolve, path, result))
    return result


def rewrite_page(
    page_text: str,
    page: str,
    resolve: Resolver,
    *,
    integrity_check: Callable[[str, str], bool] | None = None,
) -> RewrittenPage:
    """An HTML page with its external asset references pointed at local files.

    ``page`` is the page's path relative to the site root; ``resolve(url)`` gives the site-relative
    path of the local copy of ``url``, or None: then the reference is neutralised (the attribute is
    renamed ``data-offline-blocked-<name>``, a CSS ``url()`` becomes ``url("data:,")``, an
    ``@import`` is commented out). A tag made local loses its ``integrity`` and ``crossorigin``
    attributes; ``integrity_check(site_path, integrity)`` first verifies the local copy against the
    pinned hash, and a mismatch raises ValueError. Markup inside scripts is reported in
    ``unresolved``, not rewritten.
    """
    result = RewrittenPage(page_text)
    local = _localizer(resolve, page, result)
    pieces: list[str] = []
    last = 0
    for tag in _tags(page_text):
        raw = page_text[tag.start : tag.end]
        new_raw = _rewrite_tag(tag, raw, page, resolve, local, result, integrity_check)
        end, new_body = tag.end, ""
        if tag.raw_text_end is not None:
            body = page_text[tag.end : tag.raw_text_end]
            first_line = _line_of(page_text, tag.end, 1)
            new_body = body
            if tag.name == "style":
                new_body, blocked = rewrite_css(body, local, first_line=first_line)
                result.blocked += blocked
            elif not dict(tag.attrs).get("src"):
                result.unresolved += _markup_in_script(body, first_line)
            if new_body != body:
                end = tag.raw_text_end
            else:
                new_body = ""
        if new_raw != raw or end != tag.end:
            pieces += [page_text[last : tag.start], new_raw, new_body]
            last = end
    pieces.append(page_text[last:])
    result.text = "".join(pieces)
    return result


def _rewrite_tag(
    tag: _Tag,
    raw: str,
    page: str,
    resolve: Resolver,
    local: Callable[[str], str | None],
    result: RewrittenPage,
    integrity_check: Callable[[str, str], bool] | None,
) -> str:
    attrs = dict(tag.attrs)
    matches = list(_ATTRIBUTE.finditer(raw, 1 + len(tag.name)))
    edits: dict[int, str] = {}  # attribute match start -> its replacement
    localized = False
    for m in matches:
        name, quoted = m.group("name").lower(), m.group("value")
        if quoted is None:
            continue
        value = html.unescape(quoted[1:-1] if quoted[0] in "\"'" else quoted)
        urls = [u for u in _attribute_urls(tag.name, name, value, attrs) if is_external(u)]
        if urls:
            targets = [resolve(u) for u in urls]
            if name in ("srcset", "content") or targets[0] is None:
                # a srcset list or a meta refresh is not rewritten piecemeal: the attribute goes
                result.blocked += [ExternalReference(u, f"<{tag.name} {name}>", tag.line) for u in urls]
                edits[m.start()] = (
                    f"{m.group('space')}{BLOCKED_PREFIX}{m.group('name')}{m.group('eq')}{quoted}"
                )
                continue
            target = targets[0]
            integrity = attrs.get("integrity")
            if integrity and integrity_check is not None and not integrity_check(target, integrity):
                raise ValueError(f"{target} does not match the integrity {integrity!r} of <{tag.name}>")
            result.used.add(target)
            localized = True
            edits[m.start()] = f'{m.group("space")}{m.group("name")}="{html.escape(_relative(target, page))}"'
        elif name == "style" and value and external_css_references(value):
            css, blocked = rewrite_css(value, local, first_line=tag.line)
            result.blocked += [
                ExternalReference(r.url, f"{r.where} in a style attribute", tag.line) for r in blocked
            ]
            edits[m.start()] = f'{m.group("space")}style="{html.escape(css)}"'
    if localized:
        for m in matches:
            if m.group("name").lower() in NETWORK_ONLY_ATTRIBUTES:
                edits[m.start()] = ""
    if not edits:
        return raw
    out, last = [], 0
    for m in matches:
        if m.start() in edits:
            out += [raw[last : m.start()], edits[m.start()]]
            last = m.end()
    out.append(raw[last:])
    return "".join(out)


# ---------------------------------------------------------------------------------- sites


@cache
def _installed_version(package: str) -> str | None:
    manifest = NODE_MODULES / package / "package.json"
    if not manifest.is_file():
        return None
    return str(json.loads(manifest.read_text(encoding="utf-8"))["version"])


def npm_file_bytes(npm_file: NpmFile) -> bytes:
    """The bytes of an installed npm file; :class:`WebAssetsMissing` when not installed as pinned."""
    installed = _installed_version(npm_file.package)
    if installed != npm_file.version:
        found = f"version {installed} is installed" if installed else "it is not installed"
        raise WebAssetsMissing(
            f"{npm_file.package}@{npm_file.version} is needed for offline pages but {found} in "
            f"{NODE_MODULES}: run infra/install.sh"
        )
    path = npm_file.source()
    if not path.is_file():
        raise WebAssetsMissing(f"{path} is missing: run infra/install.sh")
    return path.read_bytes()


@cache
def vendored_files(npm_file: NpmFile) -> tuple[NpmFile, ...]:
    """The file and, for a stylesheet, every file it loads by relative URL (fonts, images, imports),
    recursively. A vendored stylesheet that loads from the internet raises ValueError."""
    out: dict[str, NpmFile] = {}
    pending = [npm_file]
    while pending:
        current = pending.pop()
        if current.site_path in out:
            continue
        out[current.site_path] = current
        if current.path.endswith(".css"):
            text = npm_file_bytes(current).decode("utf-8")
            if refs := external_css_references(text):
                raise ValueError(f"{current.package}/{current.path} loads from the internet: {refs}")
            base = posixpath.dirname(current.path)
            for dep in relative_css_dependencies(text):
                dep_path = posixpath.normpath(posixpath.join(base, dep))
                pending.append(NpmFile(current.package, current.version, dep_path))
    return tuple(sorted(out.values(), key=lambda f: f.site_path))


@dataclass
class OfflineSite:
    """What :func:`make_site_offline` did to a site."""

    site_root: str
    rewritten: list[str] = field(default_factory=list)  # site-relative paths of rewritten files
    copied: list[str] = field(default_factory=list)  # site-relative paths of files copied in
    blocked: dict[str, list[ExternalReference]] = field(default_factory=dict)  # neutralised, per file
    unresolved: dict[str, list[ExternalReference]] = field(default_factory=dict)  # left, per file

    @property
    def clean(self) -> bool:
        """Every external asset reference was replaced by a local copy."""
        return not self.blocked and not self.unresolved


def _join(root: str, path: str) -> str:
    return f"{root}/{path}"


def _site_files(settings: Settings, root: str) -> list[str]:
    """Site-relative paths of every page and stylesheet of a site, except the copied ones."""
    return [
        f.path[len(root) + 1 :]
        for f in storage.list_files(settings, root)
        if f.path.endswith((".html", ".css")) and not f.path[len(root) + 1 :].startswith(f"{VENDOR_DIR}/")
    ]


def make_site_offline(
    settings: Settings,
    site_root: str,
    *,
    pages: Iterable[str] | None = None,
    site_files: Mapping[str, str] | None = None,
) -> OfflineSite:
    """Make the pages of the site at ``site_root`` (local path or ``s3a://``) load nothing from the internet.

    ``pages``: site-relative paths of the HTML pages (``.html``) and stylesheets (``.css``) to process;
    missing ones are skipped (default: every page and stylesheet of the site outside ``vendor/``).
    ``site_files``: external URLs the site already holds a copy of (URL -> site-relative path), e.g. a
    tool's own logo; used only when that copy exists. CDN references in :data:`CDN_FILES` are copied
    into ``<site>/vendor/`` (once: a stamp file records a complete copy of a set of files) and the pages
    pointed at them; any other external asset reference is neutralised, reported and logged as a
    warning. The copies are written before the pages that use them; unchanged pages are not written.
    """
    root = site_root.rstrip("/")
    report = OfflineSite(root)
    known = {normalized(u): p for u, p in (site_files or {}).items()}
    has: dict[str, bool] = {}
    by_site_path = {f.site_path: f for f in CDN_FILES.values()}

    def resolve(url: str) -> str | None:
        if npm_file := cdn_file(url):
            return npm_file.site_path
        key = normalized(url)
        if key in known:
            target = known[key]
            if target not in has:
                has[target] = storage.exists(settings, _join(root, target))
            return target if has[target] else None
        return None

    def integrity_check(site_path: str, integrity: str) -> bool:
        npm_file = by_site_path.get(site_path)
        return npm_file is None or matches_integrity(npm_file_bytes(npm_file), integrity)

    changed: list[tuple[str, str]] = []
    used: set[str] = set()
    for page in _site_files(settings, root) if pages is None else pages:
        path = _join(root, page)
        if not storage.exists(settings, path):
            continue
        text = storage.read_bytes(settings, path).decode("utf-8")
        if page.endswith(".css"):
            result = rewrite_stylesheet(text, page, resolve)
        else:
            result = rewrite_page(text, page, resolve, integrity_check=integrity_check)
        used |= result.used
        if result.blocked:
            report.blocked[page] = result.blocked
        if result.unresolved:
            report.unresolved[page] = result.unresolved
        if result.text != text:
            changed.append((path, result.text))
            report.rewritten.append(page)

    needed = {f for target in used if target in by_site_path for f in vendored_files(by_site_path[target])}
    copies = sorted(needed, key=lambda f: f.site_path)
    if copies:
        # a stamp per set of files: once they are all there, a build checks one object, not each file
        listing = "\n".join(f.site_path for f in copies).encode("utf-8")
        stamp = _join(root, f"{VENDOR_DIR}/.copied-{hashlib.sha256(listing).hexdigest()[:16]}")
        if not storage.exists(settings, stamp):
            for npm_file in copies:
                if not storage.exists(settings, _join(root, npm_file.site_path)):
                    storage.write_bytes(settings, _join(root, npm_file.site_path), npm_file_bytes(npm_file))
                    report.copied.append(npm_file.site_path)
            storage.write_bytes(settings, stamp, listing + b"\n")
    for path, text in changed:
        storage.write_bytes(settings, path, text.encode("utf-8"))
    for page, refs in {**report.blocked, **report.unresolved}.items():
        log.warning(
            "%s: external references with no local copy: %s", _join(root, page), "; ".join(map(str, refs))
        )
    return report


def scan_site(settings: Settings, site_root: str) -> dict[str, list[ExternalReference]]:
    """Site-relative path -> external asset references, for every page (``.html``) and stylesheet
    (``.css``) of a site that has any (copied files included)."""
    root = site_root.rstrip("/")
    found = {}
    for f in storage.list_files(settings, root):
        if not f.path.endswith((".html", ".css")):
            continue
        text = storage.read_bytes(settings, f.path).decode("utf-8")
        refs = external_css_references(text) if f.path.endswith(".css") else external_references(text)
        if refs:
            found[f.path[len(root) + 1 :]] = refs
    return found
