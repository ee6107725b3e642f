"""The lake catalogue: every table and stored object, where it lives, and who answers for it.

Two files describe the lake: ``registry/sources.yaml`` implies one bronze table per dataset, and
``registry/lake.yaml`` declares everything else (silver libraries, quarantine, quality records,
publications) and the stored objects that are not tables (landing and raw folders, reports, models).
This module turns both into :class:`Table` and :class:`Location` entries; nothing else in the project
builds a path. Which *version* of a table readers may see is the publication log's business
(:mod:`govlake.lake.published`), keyed by the same table ids.

The grant tables of ``registry/shares.yaml`` (:mod:`govlake.sharing`) are added as
``share.grants.<share>.<recipient>.<schema>.<table>``: one per recipient of each shared table.

A table id is ``<zone>.<library>.<name>`` for the libraries (``silver.population.persons``) and
``<zone>.<name>`` otherwise (``bronze.household_registration``, ``quality.validations``); its
location is the id with dots as folders under the zone's root.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from govlake.config import REPO_ROOT, Settings, Zone
from govlake.registry import Classification, Registry, RegistryError, Sharing, load_registry, parse_sharing
from govlake.sharing import (
    EMPTY,
    GRANTS,
    ShareDefinitionError,
    ShareDefinitions,
    parse_shares,
    read_shares_file,
    shares_file,
)

DEFAULT_LAKE_FILE = REPO_ROOT / "registry" / "lake.yaml"
#: One bronze row: the extract (by content hash) and the row number inside it.
BRONZE_ROW_KEY = ("_file_hash", "_row_number")
_SEGMENT = re.compile(r"^_?[a-z][a-z0-9_]*$")
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_RANK = {Classification.GENERAL: 0, Classification.IMPORTANT: 1, Classification.CORE: 2}
#: Zones whose tables are grouped by base library: the id's second part is the library.
_LIBRARY_ZONES = frozenset({Zone.SILVER, Zone.GOLD})


class CatalogueError(ValueError):
    """``registry/lake.yaml`` is inconsistent, or a table or location id is unknown."""


@dataclass(frozen=True)
class Table:
    """One Delta table of the lake."""

    id: str
    zone: Zone
    library: str | None
    key: tuple[str, ...]
    classification: Classification
    owner: str
    description: str
    #: Readers read only the version the quality gate last published (see govlake.lake.published).
    published: bool = False
    #: For a bronze table, the registry dataset it holds.
    dataset: str | None = None
    #: May it be shared (bronze: its dataset's type in sources.yaml; others: lake.yaml); None: no.
    sharing: Sharing | None = None
    #: GB/T 43697 grade of each column where it differs from the table's (lake.yaml sharing.columns).
    column_grades: tuple[tuple[str, Classification], ...] = ()

    def grade_of(self, column: str) -> Classification:
        """A column's grade: as declared, else the table's."""
        return dict(self.column_grades).get(column, self.classification)

    @property
    def name(self) -> str:
        """The id without its zone (and library): ``persons``, ``household_registration``."""
        return self.id.split(".")[-1]

    @property
    def relative_path(self) -> str:
        return "/".join(self.id.split(".")[1:])

    def location(self, settings: Settings) -> str:
        return f"{settings.zone(self.zone)}/{self.relative_path}"

    @property
    def asset(self) -> str:
        """The Airflow asset its publication is announced on: ``bronze.<dataset>``, ``silver.<library>``."""
        if self.library and (self.zone in _LIBRARY_ZONES or self.id.startswith(GRANTS + ".")):
            return f"{self.zone.value}.{self.library}"  # silver.population, share.grants
        return self.id


@dataclass(frozen=True)
class Location:
    """A stored folder or file that is not a Delta table (reports, models, landing and raw folders)."""

    id: str
    zone: Zone
    path: str  # inside the zone; may hold {placeholders}
    description: str

    def resolve(self, settings: Settings, **values: str) -> str:
        missing = sorted(set(_PLACEHOLDER.findall(self.path)) - set(values))
        if missing:
            raise CatalogueError(f"location {self.id} needs {', '.join(missing)}")
        for name, value in values.items():
            if not _SEGMENT.match(value) and not re.fullmatch(r"[0-9a-f]{64}", value):
                raise CatalogueError(f"location {self.id}: {name}={value!r} is not a safe path segment")
        return f"{settings.zone(self.zone)}/{self.path.format(**values)}"


@dataclass(frozen=True, eq=False)  # compared (and cached) by identity, like the registry
class Catalogue:
    tables: dict[str, Table]
    locations: dict[str, Location]
    #: registry/shares.yaml: recipients, shares and the grant tables built for them.
    shares: ShareDefinitions = EMPTY

    def table(self, table_id: str) -> Table:
        try:
            return self.tables[table_id]
        except KeyError:
            raise CatalogueError(f"no table {table_id!r} in the lake catalogue") from None

    def path(self, table_id: str, settings: Settings) -> str:
        """Where the Delta table ``table_id`` lives on this lake."""
        return self.table(table_id).location(settings)

    def location(self, location_id: str, settings: Settings, **values: str) -> str:
        """Where the stored object ``location_id`` lives on this lake."""
        try:
            entry = self.locations[location_id]
        except KeyError:
            raise CatalogueError(f"no location {location_id!r} in the lake catalogue") from None
        return entry.resolve(settings, **values)

    def bronze(self, dataset: str) -> Table:
        return self.table(bronze_id(dataset))

    def library_tables(self, library: str, zone: Zone = Zone.SILVER) -> tuple[Table, ...]:
        """The tables of one base library in a zone, in declaration order (references first)."""
        return tuple(t for t in self.tables.values() if t.zone is zone and t.library == library)

    def asset_location(self, asset: str, settings: Settings) -> str:
        """Where what an asset announces lives: the table, or a library's folder (``silver.population``)."""
        if asset in self.tables:
            return self.path(asset, settings)
        tables = [t for t in self.tables.values() if t.asset == asset]
        if not tables:
            raise CatalogueError(f"no table is published on asset {asset!r}")
        # the folder holding all of them: silver/population, or gold for the marts of several groups
        folder = posixpath.commonpath([posixpath.dirname(t.relative_path) for t in tables])
        return "/".join(p for p in (settings.zone(tables[0].zone), folder) if p)

    def in_zone(self, zone: Zone) -> tuple[Table, ...]:
        return tuple(t for t in self.tables.values() if t.zone is zone)

    def published_tables(self) -> tuple[Table, ...]:
        return tuple(t for t in self.tables.values() if t.published)


def bronze_id(dataset: str) -> str:
    return f"bronze.{dataset}"


def quarantine_of(library: str) -> str:
    """The table a library's build drops rows into (one per library: one writer per table)."""
    return f"quarantine.silver_{library}"


def _check_id(table_id: str, where: str) -> tuple[Zone, list[str]]:
    zone_name, *parts = table_id.split(".")
    try:
        zone = Zone(zone_name)
    except ValueError:
        raise CatalogueError(
            f"{where}: {table_id!r} does not start with a zone ({', '.join(Zone)})"
        ) from None
    if not parts or not all(_SEGMENT.match(p) for p in parts):
        raise CatalogueError(f"{where}: {table_id!r} must be <zone>.<name> with lower-case snake_case parts")
    return zone, parts


def _bronze_tables(registry: Registry) -> dict[str, Table]:
    tables = {}
    for dataset in registry.datasets.values():
        sources = registry.sources_for(dataset.name)
        grades = [s.classification for s in sources] or [Classification.GENERAL]
        departments = sorted({s.department for s in sources})
        table = Table(
            id=bronze_id(dataset.name),
            zone=Zone.BRONZE,
            library=dataset.library.value,
            key=BRONZE_ROW_KEY,
            classification=max(grades, key=_RANK.__getitem__),
            owner=", ".join(departments) or "unassigned",
            description=dataset.description,
            published=True,
            dataset=dataset.name,
            sharing=dataset.sharing,
        )
        tables[table.id] = table
    return tables


def _table_sharing(
    spec: dict[str, Any], where: str
) -> tuple[Sharing | None, tuple[tuple[str, Classification], ...]]:
    raw = spec.get("sharing")
    if raw is None:
        return None, ()
    try:
        sharing = parse_sharing(raw, where)
        columns = (raw.get("columns") or {}) if isinstance(raw, dict) else {}
        grades = tuple((str(c), Classification(g)) for c, g in columns.items())
    except (RegistryError, ValueError) as exc:
        raise CatalogueError(f"{where}: {exc}") from exc
    return sharing, grades


def _grant_tables(shares: ShareDefinitions, tables: dict[str, Table]) -> dict[str, Table]:
    """One published share-zone table per grant (share x recipient x table), graded as shared."""
    grants = {}
    for grant in shares.grants:
        source = tables[grant.source]
        recipient = shares.recipients[grant.recipient]
        grants[grant.table_id] = Table(
            id=grant.table_id,
            zone=Zone.SHARE,
            library="grants",
            key=grant.key,
            classification=grant.grade,
            owner=source.owner,
            description=f"{grant.description} — as shared with {recipient.name} in share {grant.share}",
            published=True,
        )
    return grants


def parse_catalogue(
    doc: dict[str, Any], registry: Registry, shares_doc: dict[str, Any] | None = None
) -> Catalogue:
    """The catalogue of ``doc`` (lake.yaml) and ``registry``, with the grant tables of ``shares_doc``."""
    tables = _bronze_tables(registry)
    for table_id, spec in (doc.get("tables") or {}).items():
        where = f"registry/lake.yaml table {table_id}"
        zone, parts = _check_id(table_id, where)
        if table_id in tables:
            raise CatalogueError(f"{where}: declared twice (bronze tables come from sources.yaml)")
        try:
            classification = Classification(spec["classification"])
            owner, key = str(spec["owner"]), tuple(spec["key"])
        except (KeyError, ValueError) as exc:
            raise CatalogueError(f"{where}: {exc}") from exc
        library = spec.get("library") or (parts[0] if zone in _LIBRARY_ZONES and len(parts) > 1 else None)
        sharing, grades = _table_sharing(spec, where)
        if table_id.startswith("share.grants"):
            raise CatalogueError(f"{where}: share.grants.* are the grant tables of registry/shares.yaml")
        tables[table_id] = Table(
            id=table_id,
            zone=zone,
            library=library,
            key=key,
            classification=classification,
            owner=owner,
            description=str(spec.get("description", "")),
            published=bool(spec.get("published", False)),
            sharing=sharing,
            column_grades=grades,
        )
    try:
        shares = parse_shares(shares_doc, tables)
    except ShareDefinitionError as exc:
        raise CatalogueError(str(exc)) from exc
    tables |= _grant_tables(shares, tables)
    locations = {}
    for location_id, spec in (doc.get("locations") or {}).items():
        where = f"registry/lake.yaml location {location_id}"
        try:
            zone = Zone(spec["zone"])
            path = str(spec["path"])
        except (KeyError, ValueError) as exc:
            raise CatalogueError(f"{where}: {exc}") from exc
        if path.startswith("/") or ".." in path.split("/"):
            raise CatalogueError(f"{where}: path {path!r} must stay inside its zone")
        locations[location_id] = Location(location_id, zone, path, str(spec.get("description", "")))
    return Catalogue(tables=tables, locations=locations, shares=shares)


@cache
def _load(lake_file: Path, registry: Registry, shares: Path) -> Catalogue:
    with lake_file.open(encoding="utf-8") as fh:
        return parse_catalogue(yaml.safe_load(fh) or {}, registry, read_shares_file(shares))


def load_catalogue(
    registry: Registry | None = None, lake_file: Path | None = None, shares: Path | str | None = None
) -> Catalogue:
    """The catalogue of the registry in use (``$GOVLAKE_REGISTRY`` or the default), ``lake.yaml`` and
    the share definitions (``shares``, ``$GOVLAKE_SHARES`` or ``registry/shares.yaml``)."""
    return _load((lake_file or DEFAULT_LAKE_FILE).resolve(), registry or load_registry(), shares_file(shares))
