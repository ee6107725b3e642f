"""Expectation suites kept in git: bronze suites generated from the registry, and suite (de)serialization.

A suite lives in ``expectations/expectations/`` as one JSON file; a dot in the suite name is a folder,
the way GX's expectations store lays files out (``bronze.household_registration`` ->
``expectations/expectations/bronze/household_registration.json``). The JSON is written here, not by
GX, so that regenerating an unchanged suite gives a byte-identical file: no store ids, sorted keys.

Bronze suites are generated from the registry; silver suites are written in
``jobs/quality/silver_suites.py``. Regenerate the files after editing either::

    python -m jobs.quality.suites            # write expectations/expectations/{bronze,silver}/**.json
    python -m jobs.quality.suites --check    # exit 1 if a file is missing or stale (CI)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from govlake.config import REPO_ROOT
from govlake.registry import Dataset, Registry, load_registry

GX_PROJECT_DIR = REPO_ROOT / "expectations"
SUITES_DIR = GX_PROJECT_DIR / "expectations"

BRONZE_PREFIX = "bronze"
SILVER_PREFIX = "silver"
#: Lineage columns every bronze table carries (written by the bronze loader).
LINEAGE_COLUMNS: tuple[str, ...] = (
    "_source_id",
    "_prefecture",
    "_batch_id",
    "_file_hash",
    "_row_number",
    "_ingested_at",
)
#: One row of one extract: the file (by content hash) and the row number inside it.
ROW_IDENTITY: tuple[str, ...] = ("_file_hash", "_row_number")

_GENERATED_NOTE = (
    "Generated from registry/sources.yaml by `python -m jobs.quality.suites`; do not edit by hand."
)


class SuiteNotFound(LookupError):
    """No suite of that name is checked in under expectations/."""


def bronze_suite_name(dataset: str) -> str:
    return f"{BRONZE_PREFIX}.{dataset}"


def suite_path(name: str, suites_dir: Path = SUITES_DIR) -> Path:
    """Where the JSON of suite ``name`` lives (GX's layout: dots become folders)."""
    parts = name.split(".")
    if not all(parts) or any(p in (".", "..") or "/" in p or "\\" in p for p in parts):
        raise ValueError(f"invalid suite name {name!r}")
    return suites_dir.joinpath(*parts[:-1], f"{parts[-1]}.json")


def bronze_suite(dataset: Dataset, province_sources: Iterable[str] = ()) -> Any:  # -> ExpectationSuite
    """The bronze suite of one registry dataset.

    * every canonical column and every lineage column exists;
    * required canonical columns are not null;
    * lineage columns are not null -- except ``_prefecture`` on rows of ``province_sources``: the
      bronze loader writes the source's registry prefecture, which is null for a province-level source;
    * ``(_file_hash, _row_number)`` is unique: each row of each extract is loaded once.
    """
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.expectations.row_conditions import Column as RowColumn

    province = sorted(province_sources)

    expectations: list[Any] = []
    for column in (*dataset.column_names, *LINEAGE_COLUMNS):
        expectations.append(gxe.ExpectColumnToExist(column=column))
    for column in dataset.required_columns:
        expectations.append(
            gxe.ExpectColumnValuesToNotBeNull(
                column=column, meta={"rule": "required canonical column", "dataset": dataset.name}
            )
        )
    for column in LINEAGE_COLUMNS:
        if column == "_prefecture" and province:
            expectations.append(
                gxe.ExpectColumnValuesToNotBeNull(
                    column=column,
                    row_condition=RowColumn("_source_id").is_not_in(province),
                    meta={"rule": "lineage; province-level sources have no prefecture"},
                )
            )
        else:
            expectations.append(gxe.ExpectColumnValuesToNotBeNull(column=column, meta={"rule": "lineage"}))
    expectations.append(
        gxe.ExpectCompoundColumnsToBeUnique(
            column_list=list(ROW_IDENTITY), meta={"rule": "each extract row is loaded once"}
        )
    )
    return gx.ExpectationSuite(
        name=bronze_suite_name(dataset.name),
        expectations=expectations,
        meta={
            "generated_by": "jobs.quality.suites",
            "zone": "bronze",
            "dataset": dataset.name,
            "library": dataset.library.value,
        },
        notes=_GENERATED_NOTE,
    )


def bronze_suite_of(dataset: str, registry: Registry | None = None) -> Any:  # -> ExpectationSuite
    """The bronze suite of ``dataset`` as the registry in use defines it (``$GOVLAKE_REGISTRY`` too)."""
    registry = registry or load_registry()
    province = [src.id for src in registry.sources_for(dataset) if src.prefecture is None]
    return bronze_suite(registry.datasets[dataset], province)


def bronze_suites(registry: Registry | None = None) -> list[Any]:
    """One bronze suite per registry dataset, in registry order."""
    registry = registry or load_registry()
    return [bronze_suite_of(name, registry) for name in registry.datasets]


def _without(obj: Any, keys: frozenset[str]) -> Any:
    """``obj`` (JSON) without ``keys`` at any depth."""
    if isinstance(obj, dict):
        return {k: _without(v, keys) for k, v in obj.items() if k not in keys}
    if isinstance(obj, list):
        return [_without(v, keys) for v in obj]
    return obj


#: What GX's store adds to a suite: not part of what the suite expects.
_STORE_KEYS = frozenset({"id", "rendered_content"})


def suite_to_json(suite: Any) -> str:
    """Deterministic JSON of a suite: no store-assigned ids, sorted keys, one trailing newline."""
    doc = _without(suite.to_json_dict(), _STORE_KEYS)
    # Store ids are dropped above; keep the "meta" GX adds (its version) but nothing run-specific.
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def suite_fingerprint(suite: Any) -> str:
    """SHA-256 of the suite's deterministic JSON without its notes: equal fingerprints, equal
    expectations (and GX version). Notes are prose for readers, and a silver suite's say how many
    rows this build dropped: a suite run again on other data is still the same suite."""
    doc = _without(json.loads(suite_to_json(suite)), frozenset({"notes"}))
    return hashlib.sha256(json.dumps(doc, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def suite_from_json(text: str) -> Any:  # -> great_expectations.ExpectationSuite
    import great_expectations as gx

    doc = json.loads(text)
    doc.pop("id", None)
    return gx.ExpectationSuite(**doc)


def write_suite(suite: Any, suites_dir: Path = SUITES_DIR) -> Path:
    path = suite_path(suite.name, suites_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = suite_to_json(suite)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path


def load_suite(name: str, suites_dir: Path = SUITES_DIR) -> Any:  # -> great_expectations.ExpectationSuite
    """The checked-in suite called ``name``."""
    path = suite_path(name, suites_dir)
    if not path.is_file():
        raise SuiteNotFound(f"no suite {name!r}: {path} does not exist")
    return suite_from_json(path.read_text(encoding="utf-8"))


def list_suites(suites_dir: Path = SUITES_DIR) -> list[str]:
    """Names of every checked-in suite."""
    return sorted(
        ".".join(p.relative_to(suites_dir).with_suffix("").parts) for p in suites_dir.rglob("*.json")
    )


def _stale(suites: list[Any], prefix: str, suites_dir: Path) -> list[str]:
    stale = []
    for suite in suites:
        path = suite_path(suite.name, suites_dir)
        if not path.is_file() or path.read_text(encoding="utf-8") != suite_to_json(suite):
            stale.append(suite.name)
    expected = {s.name for s in suites}
    stale += [n for n in list_suites(suites_dir) if n.startswith(f"{prefix}.") and n not in expected]
    return sorted(stale)


def _write_all(suites: list[Any], prefix: str, suites_dir: Path) -> list[Path]:
    paths = [write_suite(s, suites_dir) for s in suites]
    keep = set(paths)
    zone_dir = suites_dir / prefix
    if zone_dir.is_dir():
        for orphan in zone_dir.rglob("*.json"):
            if orphan not in keep:
                orphan.unlink()
    return paths


def _silver_suites() -> list[Any]:
    from jobs.quality.silver_suites import silver_suites  # imports this module

    return silver_suites()


def stale_bronze_suites(registry: Registry | None = None, suites_dir: Path = SUITES_DIR) -> list[str]:
    """Bronze suites whose file is missing or differs from what the registry generates, plus orphans."""
    return _stale(bronze_suites(registry), BRONZE_PREFIX, suites_dir)


def write_bronze_suites(registry: Registry | None = None, suites_dir: Path = SUITES_DIR) -> list[Path]:
    """(Re)write every bronze suite; remove bronze suites of datasets no longer in the registry."""
    return _write_all(bronze_suites(registry), BRONZE_PREFIX, suites_dir)


def stale_silver_suites(suites_dir: Path = SUITES_DIR) -> list[str]:
    """Silver suites whose file is missing or differs from ``jobs/quality/silver_suites.py``, plus orphans."""
    return _stale(_silver_suites(), SILVER_PREFIX, suites_dir)


def write_silver_suites(suites_dir: Path = SUITES_DIR) -> list[Path]:
    """(Re)write every silver suite's JSON; remove files of tables no longer gated."""
    return _write_all(_silver_suites(), SILVER_PREFIX, suites_dir)


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.quality.suites", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only check that the files are up to date")
    parser.add_argument("--registry", help="registry file (default: registry/sources.yaml)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    registry = load_registry(args.registry) if args.registry else None
    if args.check:
        stale = stale_bronze_suites(registry) + stale_silver_suites()
        for name in stale:
            print(f"stale: {name}", file=sys.stderr)
        return 1 if stale else 0
    for path in write_bronze_suites(registry) + write_silver_suites():
        print(path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
