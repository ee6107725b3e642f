"""A Data Docs site on the object store made offline through govlake.storage (pyarrow's S3 client):
the vendored files land next to the pages in the bucket and the pages point at them.

GX 1.24 has no S3 store backend, so the site here is written by the test in Data Docs' layout, with
the CDN and logo references GX's templates produce."""

from __future__ import annotations

import posixpath
import re

import pytest

from govlake import storage, web_assets
from govlake.config import load_settings

pytestmark = pytest.mark.objectstore

JQUERY = "https://code.jquery.com/jquery-3.7.1.min.js"
FONT_AWESOME = "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css"
LOGO = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png?d=20261201T0900Z"
DARK_LOGO = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/full_logo_dark.png"


def _page(logo: str) -> str:
    return (
        f'<html><head><link rel="stylesheet" href="{FONT_AWESOME}">'
        f"<style>.navbar-brand a {{ background: url('{DARK_LOGO}') }}</style>"
        f'<script src="{JQUERY}"></script></head>'
        f'<body><img src="{logo}"><a href="https://greatexpectations.io">GX</a></body></html>'
    )


def test_a_data_docs_site_on_s3_is_made_offline(objectstore, objectstore_env, client):
    from jobs.quality.context import GX_STYLESHEETS, data_docs_root, make_data_docs_offline

    settings = load_settings(
        objectstore_env
        | {
            "GOVLAKE_STORAGE_ROOT": f"s3a://{objectstore.bucket}/offline",
            "GOVLAKE_S3_ENDPOINT": objectstore.endpoint,
        }
    )
    site = data_docs_root(settings)
    assert site == f"s3a://{objectstore.bucket}/offline/quality/gx/data_docs/local_site"
    validation_page = "validations/bronze/t/run1/20261201T090000Z/govlake_spark-bronze.t.html"
    files = {
        "index.html": _page(LOGO),
        validation_page: _page(LOGO),
        GX_STYLESHEETS[0]: f".navbar-brand a {{ background: url('{DARK_LOGO}') 0 0 no-repeat; }}",
        "static/images/logo-long.png": "\x89PNG",
    }
    for path, text in files.items():
        storage.write_bytes(settings, f"{site}/{path}", text.encode("utf-8"))
    assert set(web_assets.scan_site(settings, site)) == {"index.html", validation_page, GX_STYLESHEETS[0]}

    first = make_data_docs_offline(settings)
    assert first.clean and sorted(first.rewritten) == sorted(
        ["index.html", validation_page, GX_STYLESHEETS[0]]
    )
    assert len(first.copied) == 10  # jQuery, Font Awesome's stylesheet and its 8 web fonts
    assert web_assets.scan_site(settings, site) == {}

    prefix = site.removeprefix(f"s3a://{objectstore.bucket}/") + "/"
    listing = client.list_objects_v2(Bucket=objectstore.bucket, Prefix=prefix, MaxKeys=1000)
    keys = {o["Key"].removeprefix(prefix) for o in listing["Contents"]}
    assert "vendor/jquery@3.7.1/dist/jquery.min.js" in keys
    assert "vendor/@fortawesome/fontawesome-free@6.6.0/webfonts/fa-solid-900.woff2" in keys
    for page in ("index.html", validation_page):
        text = storage.read_bytes(settings, f"{site}/{page}").decode("utf-8")
        refs = re.findall(r'(?:src|href)="([^"]+)"', text) + re.findall(r"url\('([^']+)'\)", text)
        local = [r for r in refs if not web_assets.is_external(r)]
        assert len(local) == 4  # the stylesheet, the script, the logo, the dark logo
        for ref in local:
            assert posixpath.normpath(posixpath.join(posixpath.dirname(page), ref)) in keys, (page, ref)
        assert 'href="https://greatexpectations.io"' in text  # a hyperlink stays

    again = make_data_docs_offline(settings)
    assert again.rewritten == [] and again.copied == [] and again.clean
