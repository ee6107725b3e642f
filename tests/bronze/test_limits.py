"""Registry limits: defaults, per-source and dialect values, and errors that name the source and field."""

from __future__ import annotations

import copy

import pytest
import yaml

from govlake.config import REPO_ROOT
from govlake.registry import Limits, RegistryError, parse_registry


@pytest.fixture(scope="module")
def doc() -> dict:
    return yaml.safe_load((REPO_ROOT / "registry" / "sources.yaml").read_text(encoding="utf-8"))


def _parse(doc: dict, limits=None, dialect_limits=None):
    changed = copy.deepcopy(doc)
    source = changed["sources"][0]
    if limits is not None:
        source["limits"] = limits
    if dialect_limits is not None:
        changed["dialects"]["strict"] = {"limits": dialect_limits}
        source["dialect"] = [*source["dialect"], "strict"]
    return parse_registry(changed).sources[source["id"]]


def test_every_source_has_the_default_limits(doc):
    assert all(s.limits == Limits() for s in parse_registry(doc).sources.values())
    assert Limits().max_field_length == 65_536 and Limits().max_bytes == 8 * 2**30


def test_limits_from_a_dialect_merge_with_the_source_own(doc):
    source = _parse(doc, limits={"max_rows": 10}, dialect_limits={"max_bytes": "512 MiB", "max_rows": 99})
    assert (source.limits.max_bytes, source.limits.max_rows) == (512 * 2**20, 10)
    assert source.limits.max_field_length == Limits().max_field_length


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ({"max_byte": 1}, r"source ps_3201_household: unknown limits \['max_byte'\]"),
        ({"max_rows": "10"}, r"source ps_3201_household: limits.max_rows '10' must be a positive integer"),
        ({"max_rows": 0}, r"limits.max_rows 0 must be a positive integer"),
        ({"max_bytes": "2 parsecs"}, r"limits.max_bytes '2 parsecs' must be a byte count"),
        ({"max_field_length": True}, r"limits.max_field_length True"),
        ("big", r"source ps_3201_household: limits must be a mapping"),
    ],
)
def test_bad_limits_name_the_source_and_the_field(doc, limits, message):
    with pytest.raises(RegistryError, match=message):
        _parse(doc, limits=limits)
