"""GB/T 2260 admin divisions of Jiangsu (and any province), read from maintained packages.

Codes and names come from the GB/T 2260 table that python-stdnum ships for citizen-ID birthplace
checks (``stdnum/cn/loc.dat``, compiled from the published code lists). Unlike a flat "current
codes" list it keeps every code's history as validity spells, e.g. ``320103 [1983-2013]白下区`` or
``320800 [1983-1999]淮阴市,[2000-]淮安市``, which matters twice here: citizen IDs keep the birthplace
code that was valid when they were issued (so a 1970s-born Nanjing resident may carry a code
abolished since), and validators (python-stdnum included) check the code against the birth year.
python-stdnum 2.2's table is current for Jiangsu up to its last county-level change (2020,
Nantong: 崇川区 320613 and 海门区 320614), and agrees with the 2025 list.

District centroids (approximate, for placing synthetic address points) and the 56 ethnic groups
come from the ``cpca`` package's resources (``cpca/resources/adcodes.csv``, a 2020 snapshot; codes
it lacks, like 320613, are matched by name within the same city). Its files are read directly, without
importing cpca.

The hierarchy is province -> city (prefecture) -> district (市辖区/县/县级市 all count as
``district``); the ``xx01 市辖区`` placeholder codes are not divisions and are left out.
"""

from __future__ import annotations

import csv
import importlib.metadata
import importlib.resources
import io
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

JIANGSU = "32"

SOURCE = "python-stdnum stdnum/cn/loc.dat (GB/T 2260 with validity years)"


class Level(StrEnum):
    PROVINCE = "province"
    CITY = "city"
    DISTRICT = "district"


@dataclass(frozen=True)
class Spell:
    """One name a code had, and the years it had it (inclusive; ``None`` = open)."""

    name: str
    start: int | None = None
    end: int | None = None

    def covers(self, year: int) -> bool:
        return (self.start is None or year >= self.start) and (self.end is None or year <= self.end)

    @property
    def current(self) -> bool:
        return self.end is None


@dataclass(frozen=True)
class Division:
    code: str  # 6 digits
    name: str
    level: Level
    parent_code: str | None


_SPELL = re.compile(r"^\[(\d{4})?-(\d{4})?\](.+)$")
_LINE = re.compile(r'^(\s*)(\d+)\s+(\w+)="([^"]*)"?\s*$')


def _parse_spells(text: str) -> tuple[Spell, ...]:
    spells = []
    for part in text.split(","):
        m = _SPELL.match(part.strip())
        if m:
            start, end, name = m.groups()
            spells.append(Spell(name, int(start) if start else None, int(end) if end else None))
        else:
            spells.append(Spell(part.strip()))
    return tuple(spells)


@cache
def _loc_table() -> tuple[dict[str, str], dict[str, tuple[Spell, ...]]]:
    """(province code -> name, 6-digit code -> spells) from python-stdnum's GB/T 2260 table."""
    text = importlib.resources.files("stdnum.cn").joinpath("loc.dat").read_text(encoding="utf-8")
    provinces: dict[str, str] = {}
    codes: dict[str, tuple[Spell, ...]] = {}
    province = ""
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if not m:
            continue
        indent, number, key, value = m.groups()
        if not indent and key == "province":
            province = number
            provinces[province] = value
        elif indent and key == "county":
            codes[province + number] = _parse_spells(value)
    return provinces, codes


def code_history(province: str | None = None) -> dict[str, tuple[Spell, ...]]:
    """Every 6-digit code (of ``province``, or all) with the names it had and when."""
    _, codes = _loc_table()
    return {c: s for c, s in codes.items() if province is None or c.startswith(province)}


def name_in(code: str, year: int | None = None) -> str | None:
    """The code's name in ``year`` (``None``: today), or ``None`` if it did not exist then."""
    for spell in _loc_table()[1].get(code, ()):
        if (spell.current if year is None else spell.covers(year)) and spell.name != "市辖区":
            return spell.name
    return None


def _level(code: str) -> Level:
    if code.endswith("0000"):
        return Level.PROVINCE
    if code.endswith("00"):
        return Level.CITY
    return Level.DISTRICT


def divisions(province: str = JIANGSU, year: int | None = None) -> list[Division]:
    """The province -> city -> district hierarchy, current (``year=None``) or as of ``year``.

    Sorted by code, province first. A district's parent is its city; a county-level unit directly
    under the province (e.g. the 1986-1989 ``3290xx`` cities) has the province as parent.
    """
    provinces, _ = _loc_table()
    alive = {code: name for code in code_history(province) if (name := name_in(code, year)) is not None}
    out = []
    prov_code = province + "0000"
    out.append(Division(prov_code, alive.get(prov_code, provinces[province]), Level.PROVINCE, None))
    for code in sorted(alive):
        level = _level(code)
        if level is Level.PROVINCE:
            continue
        if level is Level.CITY:
            out.append(Division(code, alive[code], level, prov_code))
        else:
            city = code[:4] + "00"
            out.append(Division(code, alive[code], level, city if city in alive else prov_code))
    return out


def jiangsu_divisions(year: int | None = None) -> list[Division]:
    """Jiangsu province -> 13 cities -> districts/counties/county-level cities (GB/T 2260)."""
    return divisions(JIANGSU, year)


def jiangsu_prefectures() -> dict[str, str]:
    """Current 4-digit prefecture code -> name: ``{"3201": "南京市", ..., "3213": "宿迁市"}``."""
    return {d.code[:4]: d.name for d in jiangsu_divisions() if d.level is Level.CITY}


def jiangsu_districts() -> dict[str, list[Division]]:
    """Current districts of each prefecture (4-digit code -> districts, by code)."""
    out: dict[str, list[Division]] = {}
    for d in jiangsu_divisions():
        if d.level is Level.DISTRICT:
            out.setdefault(d.code[:4], []).append(d)
    return out


@cache
def _county_spans() -> tuple[tuple[str, int, int], ...]:
    """(code, first year, last year) of every county-level spell, placeholders left out."""
    return tuple(
        (code, s.start or 0, s.end or 9999)
        for code, spells in sorted(_loc_table()[1].items())
        if not code.endswith("00")
        for s in spells
        if s.name != "市辖区"
    )


def county_codes_valid_in(year: int, province: str | None = None) -> list[str]:
    """County-level codes (any province, or one) that existed in ``year``: usable as a birthplace
    in a citizen ID of someone born that year. Placeholder ``市辖区`` codes are left out."""
    codes = {c for c, start, end in _county_spans() if start <= year <= end}
    return sorted(c for c in codes if province is None or c.startswith(province))


def data_vintage(province: str = JIANGSU) -> int:
    """The latest year a code of ``province`` changed in the table: how current the table is."""
    years = [y for spells in code_history(province).values() for s in spells for y in (s.start, s.end) if y]
    return max(years)


# --- from the cpca package's resources ------------------------------------------------------------


def _cpca_resource(name: str) -> str:
    try:
        dist = importlib.metadata.distribution("cpca")
    except importlib.metadata.PackageNotFoundError as exc:  # pragma: no cover - the lock has it
        raise RuntimeError("the cpca package (its adcodes resource) is not installed") from exc
    return dist.locate_file(f"cpca/resources/{name}").read_text(encoding="utf-8")


def _stem(name: str) -> str:
    return re.sub(r"(自治县|自治州|市|区|县)$", "", name)


@cache
def district_centroids(province: str = JIANGSU) -> dict[str, tuple[float, float]]:
    """Approximate (longitude, latitude) of every current city and district of ``province``.

    From cpca's adcodes (a 2020 snapshot); a code cpca lacks takes the point of the same-named unit
    of its city (320613 崇川区 <- 320602 崇川区, 320614 海门区 <- 320684 海门市), else its city's.
    """
    points: dict[str, tuple[float, float]] = {}
    names: dict[tuple[str, str], str] = {}
    for row in csv.DictReader(io.StringIO(_cpca_resource("adcodes.csv"))):
        code = row["adcode"][:6]
        if not code.startswith(province) or not row["longitude"]:
            continue
        points[code] = (float(row["longitude"]), float(row["latitude"]))
        names[(code[:4], _stem(row["name"]))] = code
    out: dict[str, tuple[float, float]] = {}
    for d in divisions(province):
        if d.code in points:
            out[d.code] = points[d.code]
        elif (alias := names.get((d.code[:4], _stem(d.name)))) is not None:
            out[d.code] = points[alias]
        elif d.parent_code in out:
            out[d.code] = out[d.parent_code]
    return out


@cache
def ethnic_groups() -> tuple[str, ...]:
    """The 56 ethnic groups (民族) as names, 汉族 first."""
    groups = tuple(line.strip() for line in _cpca_resource("56_nations.csv").splitlines() if line.strip())
    if len(groups) != 56:  # pragma: no cover
        raise RuntimeError(f"cpca lists {len(groups)} ethnic groups, expected 56")
    return groups
