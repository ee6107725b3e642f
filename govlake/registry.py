"""The source registry: one YAML file (``registry/sources.yaml``) describes every extract.

DAGs, loaders and the generator are all driven by it; nothing is written per source or per
prefecture. The file has two sections:

``datasets``  what a kind of extract means, independent of who sends it: its base library
              (population / legal_persons / geography), canonical columns with types and
              which are required, the key of one source row, and survivorship trust.
``sources``   who sends it and how: department, prefecture, format, encoding, delimiter, date
              formats, the source-column -> canonical-column mapping, classification, owner,
              expected schedule.

A source (or dialect) may say ``limits:`` (see :class:`Limits`): what one extract may weigh before
ingestion refuses it. Limits merge key by key like ``columns``.

An optional third section, ``dialects``, names groups of source keys said once and shared: a source
(or another dialect) lists them under ``dialect:`` (a name or a list, later ones win, the source's
own keys win over all). Mappings (``columns``, ``constants``) merge key by key; other keys replace.
Plain YAML anchors and merge keys (``<<: *x``) work too, since the file is read with safe_load.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from govlake.config import DEFAULT_REGISTRY

# libyaml's safe loader when built in: every DAG file parse reads the registry (~60 ms -> ~7 ms).
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Library(StrEnum):
    """The three base libraries a dataset feeds."""

    POPULATION = "population"
    LEGAL_PERSONS = "legal_persons"
    GEOGRAPHY = "geography"


class Classification(StrEnum):
    """Data classification levels after GB/T 43697-2024 (数据安全技术 数据分类分级规则)."""

    GENERAL = "general"  # 一般数据
    IMPORTANT = "important"  # 重要数据
    CORE = "core"  # 核心数据


class SharingType(StrEnum):
    """Whether a dataset may be shared with other departments and regions (政务数据共享类型)."""

    UNCONDITIONAL = "unconditional"  # 无条件共享: any authorised recipient
    CONDITIONAL = "conditional"  # 有条件共享: only through a share that states its approval
    NOT_SHARED = "not_shared"  # 不予共享: never, on the legal basis recorded with it


@dataclass(frozen=True)
class Sharing:
    """A dataset's (or table's) sharing type; ``basis`` is the law or approval behind it."""

    type: SharingType
    basis: str = ""


def parse_sharing(raw: Any, where: str) -> Sharing:
    """``sharing: {type: ..., basis: ...}`` (or just the type); not_shared needs its legal basis.

    Undeclared means conditional: shared only through a share that names its approval.
    """
    if raw is None:
        return Sharing(SharingType.CONDITIONAL)
    spec = {"type": raw} if isinstance(raw, str) else dict(raw)
    unknown = sorted(set(spec) - {"type", "basis", "columns"})
    if unknown:
        raise RegistryError(f"{where}: sharing has unknown keys {unknown}")
    try:
        kind = SharingType(spec.get("type"))
    except ValueError:
        raise RegistryError(
            f"{where}: sharing type {spec.get('type')!r} is not one of {', '.join(SharingType)}"
        ) from None
    basis = str(spec.get("basis") or "").strip()
    if kind is SharingType.NOT_SHARED and not basis:
        raise RegistryError(f"{where}: sharing not_shared needs its legal basis (sharing.basis)")
    return Sharing(kind, basis)


class FileFormat(StrEnum):
    CSV = "csv"
    JSON = "json"  # JSON Lines: one object per line, as department exports usually are
    XLSX = "xlsx"


class ColumnType(StrEnum):
    STRING = "string"
    DATE = "date"  # parsed with the source's date_formats
    INTEGER = "integer"
    DECIMAL = "decimal"
    DOUBLE = "double"


class RegistryError(ValueError):
    """The registry file is inconsistent."""


#: Values that become paths, DAG ids, asset names or SQL identifiers: lower-case snake_case.
SAFE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def _check_safe(value: object, where: str, field: str) -> None:
    if not isinstance(value, str) or not SAFE_NAME.match(value):
        raise RegistryError(
            f"{where}: {field} {value!r} must be lower-case snake_case ({SAFE_NAME.pattern}): "
            "it becomes a path, a DAG id or an SQL identifier"
        )


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType = ColumnType.STRING
    required: bool = False
    description: str = ""


@dataclass(frozen=True)
class Dataset:
    name: str
    library: Library
    description: str
    columns: tuple[Column, ...]
    # Columns that identify one row of one source (together with the source id).
    row_key: tuple[str, ...]
    # Fields this dataset is trusted for in golden records, e.g. {"name": 1, "death_date": 1}:
    # lower rank wins, ties broken by recency.
    trust: dict[str, int] = field(default_factory=dict)
    #: May it be shared, and on what basis (registry/shares.yaml may not include a not-shared one).
    sharing: Sharing = field(default_factory=lambda: Sharing(SharingType.CONDITIONAL))

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"dataset {self.name} has no column {name!r}")


_BYTE_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}


@dataclass(frozen=True)
class Limits:
    """What one extract of a source may weigh; ingestion refuses or quarantines what is heavier.

    Over ``max_bytes``, ``max_rows`` or ``max_xlsx_decompressed_bytes`` the whole file is REJECTED
    (it stays in raw, the ingest log says which limit); a field over ``max_field_length`` or a record
    over ``max_record_bytes`` quarantines that record only, and reading goes on. ``max_record_lines``
    bounds how many physical lines one quoted CSV field may join (an unterminated quote is cut there).
    """

    max_bytes: int = 8 * 2**30  # size of the extract as landed
    max_rows: int = 50_000_000  # data records (the header is not one)
    max_field_length: int = 65_536  # characters of one field (Excel's own cap is 32,767)
    max_record_bytes: int = 4 * 2**20  # bytes of one record, all its lines together
    max_record_lines: int = 64  # physical lines one CSV record may span through quoted line breaks
    max_xlsx_decompressed_bytes: int = 2**30  # all parts of a workbook, uncompressed (zip bombs)

    def as_dict(self) -> dict[str, int]:
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


def _parse_limits(raw: object, where: str) -> Limits:
    if raw is None:
        return Limits()
    if not isinstance(raw, dict):
        raise RegistryError(f"{where}: limits must be a mapping of limit names to numbers, not {raw!r}")
    known = Limits.__dataclass_fields__
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise RegistryError(f"{where}: unknown limits {unknown} (known: {sorted(known)})")
    values: dict[str, int] = {}
    for name, value in raw.items():
        number = _limit_value(value, name.endswith("_bytes"))
        if number is None or number <= 0:
            unit = "a byte count such as 2 GiB" if name.endswith("_bytes") else "a positive integer"
            raise RegistryError(f"{where}: limits.{name} {value!r} must be {unit}")
        values[name] = number
    return Limits(**values)


def _limit_value(value: object, is_bytes: bool) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if not (is_bytes and isinstance(value, str)):
        return None
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", value)
    if not match or match.group(2).lower() not in _BYTE_UNITS:
        return None
    return int(float(match.group(1)) * _BYTE_UNITS[match.group(2).lower()])


@dataclass(frozen=True)
class Source:
    id: str
    department: str
    dataset: str
    prefecture: str | None  # admin code 3201..3213, or None for a province-level source
    format: FileFormat
    encoding: str  # a Python codec name, or "unknown" to detect
    delimiter: str | None
    date_formats: tuple[str, ...]  # Spark datetime patterns, tried in order
    column_map: dict[str, str]  # source column name -> canonical column name
    classification: Classification
    owner: str
    schedule: str  # cron expression: when a new extract is expected
    description: str = ""
    # Canonical column values the sender states once for the whole extract instead of per row,
    # e.g. {"crs": "GCJ02"}: loaders fill them in when the file has no such column.
    constants: dict[str, str] = field(default_factory=dict)
    # Glob the department's file names follow (landing sensors, the generator's file names).
    file_pattern: str = "*"
    limits: Limits = field(default_factory=Limits)

    @property
    def canonical_to_source(self) -> dict[str, str]:
        return {v: k for k, v in self.column_map.items()}


@dataclass(frozen=True, eq=False)  # compared (and cached) by identity: one object per registry file
class Registry:
    datasets: dict[str, Dataset]
    sources: dict[str, Source]

    def source(self, source_id: str) -> Source:
        try:
            return self.sources[source_id]
        except KeyError:
            raise KeyError(f"no source {source_id!r} in the registry") from None

    def dataset_of(self, source: Source | str) -> Dataset:
        src = self.source(source) if isinstance(source, str) else source
        return self.datasets[src.dataset]

    def sources_for(self, dataset: str) -> list[Source]:
        return [s for s in self.sources.values() if s.dataset == dataset]


def _parse_dataset(name: str, raw: dict[str, Any]) -> Dataset:
    _check_safe(name, f"dataset {name!r}", "name")
    for col in raw.get("columns") or {}:
        _check_safe(col, f"dataset {name}", "column name")
    columns = tuple(
        Column(
            name=col,
            type=ColumnType(spec.get("type", "string")),
            required=bool(spec.get("required", False)),
            description=spec.get("description", ""),
        )
        for col, spec in (raw.get("columns") or {}).items()
    )
    ds = Dataset(
        name=name,
        library=Library(raw["library"]),
        description=raw.get("description", ""),
        columns=columns,
        row_key=tuple(raw.get("row_key", ())),
        trust=dict(raw.get("trust") or {}),
        sharing=parse_sharing(raw.get("sharing"), f"dataset {name}"),
    )
    unknown = [c for c in ds.row_key if c not in ds.column_names]
    if unknown:
        raise RegistryError(f"dataset {name}: row_key names unknown columns {unknown}")
    return ds


_SOURCE_KEYS = frozenset(
    (
        "id",
        "department",
        "dataset",
        "prefecture",
        "format",
        "encoding",
        "delimiter",
        "date_formats",
        "columns",
        "classification",
        "owner",
        "schedule",
        "description",
        "constants",
        "file_pattern",
        "limits",
    )
)
_MERGED_KEYS = frozenset({"columns", "constants", "limits"})


def _apply_dialects(
    raw: dict[str, Any], dialects: dict[str, dict[str, Any]], seen: tuple[str, ...] = ()
) -> dict[str, Any]:
    """``raw`` with the keys of the dialects it names filled in (recursively)."""
    names = raw.get("dialect") or []
    if isinstance(names, str):
        names = [names]
    merged: dict[str, Any] = {}
    for name in [*names, None]:
        if name is None:
            layer = {k: v for k, v in raw.items() if k != "dialect"}
        elif name in seen:
            raise RegistryError(f"dialect {name!r} refers to itself: {' -> '.join((*seen, name))}")
        elif name not in dialects:
            raise RegistryError(f"{raw.get('id') or 'dialect ' + seen[-1]}: unknown dialect {name!r}")
        else:
            layer = _apply_dialects(dialects[name] or {}, dialects, (*seen, name))
        for key, value in layer.items():
            if key in _MERGED_KEYS and isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
    return merged


def _parse_source(raw: dict[str, Any], datasets: dict[str, Dataset]) -> Source:
    sid = raw.get("id") or "?"
    unknown_keys = sorted(set(raw) - _SOURCE_KEYS)
    if unknown_keys:
        raise RegistryError(f"source {sid}: unknown keys {unknown_keys}")
    _check_safe(raw.get("id"), f"source {sid!r}", "id")
    _check_safe(raw.get("department"), f"source {sid}", "department")
    pattern = str(raw.get("file_pattern") or "*")
    if "/" in pattern or "\\" in pattern or ".." in pattern:
        raise RegistryError(f"source {sid}: file_pattern {pattern!r} must be a file name glob, not a path")
    limits = _parse_limits(raw.get("limits"), f"source {sid}")
    try:
        src = Source(
            id=raw["id"],
            department=raw["department"],
            dataset=raw["dataset"],
            prefecture=str(raw["prefecture"]) if raw.get("prefecture") else None,
            format=FileFormat(raw["format"]),
            encoding=raw.get("encoding", "utf-8"),
            delimiter=raw.get("delimiter"),
            date_formats=tuple(raw.get("date_formats") or ()),
            column_map=dict(raw["columns"]),
            classification=Classification(raw["classification"]),
            owner=raw["owner"],
            schedule=raw["schedule"],
            description=raw.get("description", ""),
            constants={str(k): str(v) for k, v in (raw.get("constants") or {}).items()},
            file_pattern=raw.get("file_pattern") or "*",
            limits=limits,
        )
    except (KeyError, ValueError) as exc:
        raise RegistryError(f"source {sid}: {exc}") from exc
    if src.dataset not in datasets:
        raise RegistryError(f"source {sid}: unknown dataset {src.dataset!r}")
    ds = datasets[src.dataset]
    bad = sorted(set(src.column_map.values()) - set(ds.column_names))
    if bad:
        raise RegistryError(f"source {sid}: maps to columns {bad} that dataset {ds.name} does not have")
    bad = sorted(set(src.constants) - set(ds.column_names))
    if bad:
        raise RegistryError(f"source {sid}: constants for columns {bad} that dataset {ds.name} does not have")
    both = sorted(set(src.constants) & set(src.column_map.values()))
    if both:
        raise RegistryError(f"source {sid}: columns {both} are both mapped and constant")
    missing = sorted(set(ds.required_columns) - set(src.column_map.values()) - set(src.constants))
    if missing:
        raise RegistryError(f"source {sid}: required columns {missing} of {ds.name} are not mapped")
    if src.prefecture is not None and not re.fullmatch(r"32(0[1-9]|1[0-3])", src.prefecture):
        raise RegistryError(
            f"source {sid}: prefecture {src.prefecture!r} is not a Jiangsu city code (3201-3213)"
        )
    from croniter import croniter

    if not croniter.is_valid(src.schedule):
        raise RegistryError(f"source {sid}: schedule {src.schedule!r} is not a cron expression")
    return src


def parse_registry(doc: dict[str, Any]) -> Registry:
    datasets = {name: _parse_dataset(name, spec) for name, spec in (doc.get("datasets") or {}).items()}
    dialects = doc.get("dialects") or {}
    sources: dict[str, Source] = {}
    for raw in doc.get("sources") or []:
        src = _parse_source(_apply_dialects(raw, dialects), datasets)
        if src.id in sources:
            raise RegistryError(f"source id {src.id} is declared twice")
        sources[src.id] = src
    return Registry(datasets=datasets, sources=sources)


@cache
def _load(path: Path) -> Registry:
    with path.open(encoding="utf-8") as fh:
        return parse_registry(yaml.load(fh, Loader=_YAML_LOADER))


def load_registry(path: Path | str | None = None) -> Registry:
    """The registry at ``path``, ``$GOVLAKE_REGISTRY``, or ``registry/sources.yaml``."""
    chosen = path or os.environ.get("GOVLAKE_REGISTRY") or DEFAULT_REGISTRY
    return _load(Path(chosen).resolve())
