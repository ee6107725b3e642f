"""Registry values that become paths, DAG ids, asset names or SQL identifiers are checked on load."""

from __future__ import annotations

import copy

import pytest
import yaml

from govlake.config import REPO_ROOT
from govlake.registry import RegistryError, parse_registry


@pytest.fixture(scope="module")
def doc() -> dict:
    return yaml.safe_load((REPO_ROOT / "registry" / "sources.yaml").read_text(encoding="utf-8"))


def _with(doc: dict, change) -> dict:
    changed = copy.deepcopy(doc)
    change(changed)
    return changed


def test_the_province_registry_loads(doc):
    assert len(parse_registry(doc).sources) == len(doc["sources"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["sources"][0].update(id="PS 3201/../x"), r"source 'PS 3201/../x': id .* snake_case"),
        (lambda d: d["sources"][0].update(id="ps-3201"), r"source 'ps-3201': id"),
        (lambda d: d["sources"][0].update(department="公安"), r"source ps_3201_household: department '公安'"),
        (lambda d: d["sources"][0].update(file_pattern="../*.csv"), r"ps_3201_household: file_pattern"),
        (lambda d: d["sources"][0].update(schedule="every day"), r"ps_3201_household: schedule"),
        (lambda d: d["sources"][0].update(prefecture="3214"), r"ps_3201_household: prefecture '3214'"),
        (
            lambda d: d["datasets"].update({"bad name": d["datasets"]["admin_divisions"]}),
            r"dataset 'bad name': name",
        ),
        (
            lambda d: d["datasets"]["admin_divisions"]["columns"].update({"Code; DROP": {}}),
            r"dataset admin_divisions: column name 'Code; DROP'",
        ),
    ],
)
def test_unsafe_values_name_the_source_and_the_field(doc, change, message):
    with pytest.raises(RegistryError, match=message):
        parse_registry(_with(doc, change))
