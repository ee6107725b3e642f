"""govlake.web_assets on tiny pages: what counts as an external asset reference, how pages are
rewritten, and that the pinned npm packages are the files Great Expectations' templates name."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
from importlib.util import find_spec
from pathlib import Path

import pytest

from govlake import web_assets as w

CDN = "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js"
CDN_LOCAL = "vendor/bootstrap-table@1.19.1/dist/bootstrap-table.min.js"
GX_TEMPLATES = Path(find_spec("great_expectations").origin).parent / "render" / "view"  # no import


def urls(page: str) -> list[str]:
    return [r.url for r in w.external_references(page)]


def resolve_catalogue(url: str) -> str | None:
    npm_file = w.cdn_file(url)
    return npm_file.site_path if npm_file else None


# ------------------------------------------------------------------------- what counts


def test_assets_count_hyperlinks_text_and_namespaces_do_not():
    page = """<!DOCTYPE html><html><head>
    <SCRIPT SRC="HTTPS://cdn.example/a.js"></SCRIPT>
    <link rel="stylesheet" href="//cdn.example/b.css">
    <link rel="preconnect" href="https://fonts.example">
    <link rel="icon" href="static/favicon.ico">
    <base href="https://mirror.example/">
    <meta http-equiv="refresh" content="5; url=https://elsewhere.example/">
    </head><body>
    <svg xmlns="http://www.w3.org/2000/svg"><image href="https://img.example/s.svg"/></svg>
    <img src="data:image/png;base64,AAAA" srcset="small.png 1x, https://img.example/big.png 2x">
    <iframe src="http://frame.example/"></iframe>
    <td background="https://img.example/bg.gif"></td>
    <a href="https://greatexpectations.io">a hyperlink</a> and https://in.text.example too.
    <form action="https://form.example/"></form>
    <!-- <script src="https://commented.example/x.js"></script> -->
    <script src="vendor/local.js"></script>
    </body></html>"""
    assert urls(page) == [
        "HTTPS://cdn.example/a.js",
        "//cdn.example/b.css",
        "https://fonts.example",
        "https://mirror.example/",
        "https://elsewhere.example/",
        "https://img.example/s.svg",
        "https://img.example/big.png",
        "http://frame.example/",
        "https://img.example/bg.gif",
    ]
    wheres = [r.where for r in w.external_references(page)]
    assert wheres[:2] == ["<script src>", "<link href>"] and "<img srcset>" in wheres


def test_css_in_style_elements_attributes_and_files():
    page = """<html><head><style>
    @import url("https://fonts.example/a.css");
    @import 'http://fonts.example/b.css';
    .logo { background: url('https://img.example/logo.png') 0 0 no-repeat; }
    .local { background: url(../images/x.png); } .inline { background: url(data:image/gif;base64,R0l) }
    </style></head>
    <body><div style="background-image: url(&quot;https://img.example/d.png&quot;)"></div></body></html>"""
    refs = w.external_references(page)
    assert [(r.url, r.where) for r in refs] == [
        ("https://fonts.example/a.css", "CSS @import"),  # not counted again as a url()
        ("http://fonts.example/b.css", "CSS @import"),
        ("https://img.example/logo.png", "CSS url()"),
        ("https://img.example/d.png", "CSS url() in a style attribute"),
    ]
    assert [r.line for r in refs] == [2, 3, 4, 7]
    css = "@font-face{src:url(../webfonts/fa.woff2) format('woff2'),url('../webfonts/fa.ttf?v=1#x')}"
    assert w.external_css_references(css) == []
    assert w.relative_css_dependencies(css) == ["../webfonts/fa.woff2", "../webfonts/fa.ttf"]


def test_markup_written_by_scripts_counts_code_does_not():
    page = """<script>
    var row = '<span class="x"><img src=\\"https://img.example/row.png\\"></span>';
    var link = '<a href="https://hyperlink.example/">go</a>';
    fetch("https://api.example/data");  // code: not evaluated, the browser test covers it
    </script>"""
    refs = w.external_references(page)
    assert [(r.url, r.line) for r in refs] == [("https://img.example/row.png", 2)]
    assert refs[0].where == "markup in <script>: <img src>"


# ------------------------------------------------------------------------------ rewrite


def test_rewrite_points_references_at_relative_local_copies_and_changes_nothing_else():
    page = (
        "<html><head>\n"
        f'<script src="{CDN}"></script>\n'
        '<link rel="stylesheet" href="http://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css"/>\n'
        '<img class="NO-CACHE" src="https://logo.example/logo-long.png?d=20261201T090554Z" alt="GX">\n'
        "<style>.brand { background: url('https://logo.example/logo-long.png') }</style>\n"
        '</head><body><a href="https://greatexpectations.io">GX</a></body></html>'
    )
    logo = {w.normalized("https://logo.example/logo-long.png"): "static/images/logo-long.png"}

    def resolve(url: str) -> str | None:
        return resolve_catalogue(url) or logo.get(w.normalized(url))  # the query is ignored

    result = w.rewrite_page(page, "validations/suite/run/page.html", resolve)
    up = "../../../"
    assert result.text == (
        "<html><head>\n"
        f'<script src="{up}{CDN_LOCAL}"></script>\n'
        f'<link rel="stylesheet" href="{up}vendor/bootstrap@4.3.1/dist/css/bootstrap.min.css"/>\n'
        f'<img class="NO-CACHE" src="{up}static/images/logo-long.png" alt="GX">\n'
        f"<style>.brand {{ background: url('{up}static/images/logo-long.png') }}</style>\n"
        '</head><body><a href="https://greatexpectations.io">GX</a></body></html>'
    )
    assert result.used == {
        CDN_LOCAL,
        "vendor/bootstrap@4.3.1/dist/css/bootstrap.min.css",
        "static/images/logo-long.png",
    }
    assert not result.blocked and not result.unresolved
    assert w.external_references(result.text) == []
    again = w.rewrite_page(result.text, "validations/suite/run/page.html", resolve)
    assert again.text == result.text  # idempotent
    at_root = w.rewrite_page(page, "index.html", resolve).text
    assert f'<script src="{CDN_LOCAL}">' in at_root


def test_integrity_is_checked_then_dropped_with_crossorigin():
    tag = '<script src="{}" integrity="{}" crossorigin="anonymous"></script>'
    body = b"console.log(1)"
    good = "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode()

    def check(site_path: str, integrity: str) -> bool:
        return site_path == CDN_LOCAL and w.matches_integrity(body, integrity)

    rewritten = w.rewrite_page(tag.format(CDN, good), "index.html", resolve_catalogue, integrity_check=check)
    # over file:// a crossorigin fetch is refused, and integrity needs one: both go
    assert rewritten.text == f'<script src="{CDN_LOCAL}"></script>'
    with pytest.raises(ValueError, match="does not match the integrity"):
        w.rewrite_page(tag.format(CDN, "sha384-AAAA"), "index.html", resolve_catalogue, integrity_check=check)


def test_references_without_a_local_copy_are_neutralised_and_reported():
    page = (
        '<script src="https://unknown.example/x.js" defer></script>'
        '<img srcset="https://unknown.example/a.png 1x">'
        "<style>@import url(https://unknown.example/a.css); .x{background:url(https://unknown.example/b.png)}</style>"
        '<p style="background:url(https://unknown.example/c.png)">'
    )
    result = w.rewrite_page(page, "index.html", lambda url: None)
    assert result.text == (
        '<script data-offline-blocked-src="https://unknown.example/x.js" defer></script>'
        '<img data-offline-blocked-srcset="https://unknown.example/a.png 1x">'
        "<style>/* offline: @import of https://unknown.example/a.css removed */"
        ' .x{background:url("data:,") /* offline: was https://unknown.example/b.png */}</style>'
        '<p style="background:url(&quot;data:,&quot;) /* offline: was https://unknown.example/c.png */">'
    )
    assert [r.url for r in result.blocked] == [
        "https://unknown.example/x.js",
        "https://unknown.example/a.png",
        "https://unknown.example/a.css",
        "https://unknown.example/b.png",
        "https://unknown.example/c.png",
    ]
    assert w.external_references(result.text) == []


def test_stylesheet_file_references_are_relative_to_the_file():
    css = ".navbar-brand a { background: url('https://logo.example/full_logo_dark.png') 0 0 no-repeat; }"
    result = w.rewrite_stylesheet(css, "static/styles/default.css", lambda url: "static/images/logo-long.png")
    assert result.text == ".navbar-brand a { background: url('../images/logo-long.png') 0 0 no-repeat; }"


# ------------------------------------------------------------- the pinned npm packages


def test_catalogue_versions_are_the_pinned_and_installed_ones():
    folder = w.WEB_ASSETS_DIR
    pins = json.loads((folder / "package.json").read_text(encoding="utf-8"))["dependencies"]
    assert pins == {f.package: f.version for f in w.CDN_FILES.values()}
    lock = json.loads((folder / "package-lock.json").read_text(encoding="utf-8"))
    assert lock["packages"][""]["dependencies"] == pins
    for package, version in pins.items():
        assert lock["packages"][f"node_modules/{package}"]["version"] == version
    assert w.NODE_MODULES.is_dir(), "the web assets are not installed: run infra/install.sh"
    for npm_file in w.CDN_FILES.values():
        assert w.npm_file_bytes(npm_file), npm_file  # installed at the pinned version


def test_a_stylesheet_brings_the_fonts_it_loads():
    font_awesome = w.CDN_FILES["https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css"]
    files = {f.site_path for f in w.vendored_files(font_awesome)}
    base = "vendor/@fortawesome/fontawesome-free@6.6.0"
    assert f"{base}/css/all.min.css" in files and len(files) == 9  # and its 8 web fonts
    assert {f"{base}/webfonts/fa-solid-900.woff2", f"{base}/webfonts/fa-brands-400.ttf"} <= files
    assert all(w.npm_file_bytes(f) for f in w.vendored_files(font_awesome))


def test_gx_templates_reference_only_catalogued_cdn_files_with_matching_integrity():
    """Every external asset in GX's templates has a local copy (or, for GX's own logo, a site file)."""
    from jobs.quality.context import GX_SITE_FILES

    known = {w.normalized(u) for u in [*w.CDN_FILES, *GX_SITE_FILES]}
    seen = set()
    for template in sorted(GX_TEMPLATES.rglob("*")):
        if template.suffix not in (".j2", ".css"):
            continue
        text = template.read_text(encoding="utf-8")
        refs = w.external_css_references(text) if template.suffix == ".css" else w.external_references(text)
        for ref in refs:
            assert w.normalized(ref.url) in known, f"{template.name}: {ref}"
            seen.add(w.normalized(ref.url))
        for tag in re.findall(r"<script[^>]*integrity=[^>]*>", text):
            src = re.search(r'src="([^"]+)"', tag).group(1)
            integrity = re.search(r'integrity="([^"]+)"', tag).group(1)
            assert w.matches_integrity(w.npm_file_bytes(w.CDN_FILES[src]), integrity), src
    # the navbar logo's address is assembled in Jinja, so only the rendered pages show it
    assert seen == {w.normalized(u) for u in w.CDN_FILES} | {
        w.normalized(u) for u in GX_SITE_FILES if u.endswith("full_logo_dark.png")
    }


# ------------------------------------------------------------------------------- a site


def test_make_site_offline_copies_once_and_rewrites_only_what_changed(own_lake, tmp_path, caplog):
    settings = own_lake("web_assets")
    site = tmp_path / "site"
    (site / "static" / "images").mkdir(parents=True)
    (site / "static" / "images" / "logo.png").write_bytes(b"\x89PNG")
    (site / "deep" / "er").mkdir(parents=True)
    fa = "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css"
    (site / "index.html").write_text(f'<link rel="stylesheet" href="{fa}"><script src="{CDN}"></script>')
    (site / "deep" / "er" / "page.html").write_text(
        f'<script src="{CDN}"></script><img src="https://logo.example/logo.png?d=1">'
        '<script src="https://unknown.example/x.js"></script>'
    )
    (site / "static" / "styles.css").write_text(".a{background:url(https://logo.example/logo.png)}")
    logo = {"https://logo.example/logo.png": "static/images/logo.png"}

    caplog.set_level(logging.WARNING, logger="govlake.web_assets")
    first = w.make_site_offline(settings, str(site), site_files=logo)
    assert sorted(first.rewritten) == ["deep/er/page.html", "index.html", "static/styles.css"]
    assert CDN_LOCAL in first.copied and len(first.copied) == 10  # the css, the js, 8 web fonts
    assert list(first.blocked) == ["deep/er/page.html"] and not first.clean
    assert "https://unknown.example/x.js" in caplog.text
    assert w.scan_site(settings, str(site)) == {}

    page = (site / "deep" / "er" / "page.html").read_text()
    for ref in re.findall(r'(?:src|href)="([^"]+)"', page) + re.findall(r"url\(([^)]+)\)", page):
        if not w.is_external(ref):
            assert (site / "deep" / "er" / ref).resolve().is_file(), ref
    assert '<img src="../../static/images/logo.png">' in page
    assert (site / "static" / "styles.css").read_text() == ".a{background:url(images/logo.png)}"

    mtimes = {p: p.stat().st_mtime_ns for p in site.rglob("*") if p.is_file()}
    again = w.make_site_offline(settings, str(site), site_files=logo)
    assert again.rewritten == [] and again.copied == []
    assert {p: p.stat().st_mtime_ns for p in site.rglob("*") if p.is_file()} == mtimes

    only = w.make_site_offline(settings, str(site), pages=["index.html", "missing.html"])
    assert only.rewritten == [] and only.clean
    assert any(p.name.startswith(".copied-") for p in (site / "vendor").iterdir())  # the stamp


# ------------------------------------------------------------------ notebook pages


def tiny_notebook(*markdown: str) -> object:
    import nbformat

    png = base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()
    chart = nbformat.v4.new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"})
    cells = [nbformat.v4.new_markdown_cell(text) for text in markdown]
    cells.append(nbformat.v4.new_code_cell("chart()", outputs=[chart]))
    return nbformat.v4.new_notebook(cells=cells)


def test_notebook_pages_load_nothing_and_a_remote_image_is_refused():
    """govlake notebooks' pages (nbconvert's lab template without its CDN blocks) pass this guard;
    a page that would fetch something is never written."""
    from govlake_cli import notebooks

    page = notebooks.to_html(tiny_notebook("# Title\n\n[a hyperlink](https://example.org), $x^2$"), "tiny")
    assert w.external_references(page) == []
    assert not re.search(r"<(?:script|link)[^>]+(?:src|href)=", page)
    assert 'src="data:image/png;base64,' in page
    with pytest.raises(notebooks.NotebookFailed, match=r"<img src> https://img\.example/c\.png"):
        notebooks.to_html(tiny_notebook("![chart](https://img.example/c.png)"), "remote")
