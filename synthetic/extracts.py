"""From the true world to each registry source's rows: who is in which extract, and the mess.

``build_rows`` turns a source's share of the world into :class:`Row` objects holding canonical
values plus references to the true entities; ``apply_mess`` then damages a controlled number of
them as the plan below says, recording every change on the row, so ground truth never has to be
inferred from the files.

Mess kinds (``Row.messes``; the ones that make a row invalid set ``Row.invalid``):

==================  ===========================================================================
id_check_digit      18-digit ID with a wrong check character (invalid)
id15                legacy 15-digit ID instead of the 18-digit one
id_lowercase_x      ID ending in ``x`` instead of ``X``
fullwidth           full-width digits / letters in an ID, phone or taxpayer id (１２３Ｘ)
missing_id          no ID number although the person has one
name_typo           one character of a name wrong (a look-alike / sound-alike)
traditional_name    the name in traditional characters (張偉 for 张伟)
address_typo        house number off, 路/街 swapped or 幢 written 栋
date_alt_format     dates in the source's second declared format
uscc_check_digit    USCC with a wrong check character (invalid)
legacy_id_only      enterprise known only by its old registration number / organization code
gcj02 / gcj02_point coordinates in GCJ-02: the whole source declares it / one row says so
unencodable_char    a name character the file's encoding (GBK) cannot hold, sent as ``?``
exact_duplicate     the row repeats an earlier row byte for byte (``Row.duplicate_of``)
wrong_field_count   an unquoted delimiter inside a value, or the last field missing (invalid)
truncated_file      the file stops mid-row: the cut row is ``truncated_row``, every earlier row of
                    that file ``truncated_file`` (invalid: the whole file is unusable)
==================  ===========================================================================
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import random
import re
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from govlake.reference.admin_divisions import Level, jiangsu_divisions, name_in
from govlake.registry import Registry, Source
from synthetic import ids
from synthetic.geo import wgs84_to_gcj02
from synthetic.pools import CAUSES_OF_DEATH, INSURANCE_TYPES
from synthetic.world import (
    BIRTHS_FROM,
    LEGACY_ID_BEFORE,
    MALE,
    MARRIAGES_FROM,
    World,
    add_years,
    pick,
    random_date,
)


@dataclass(slots=True)
class Row:
    values: dict[str, object]  # canonical column -> str | date | float | None
    person_id: str = ""
    person_id_2: str = ""  # marriage: the wife
    legal_person_id: str = ""  # enterprise, taxpayer, or a person's employer
    address_id: str = ""
    division_code: str = ""
    messes: list[str] = field(default_factory=list)
    invalid: str = ""
    broken: str = ""  # CSV only: extra_field / missing_field
    date_format: str = ""  # when the row's dates use another of the source's formats
    duplicate_of: Row | None = None


@dataclass(frozen=True)
class Habits:
    """How a department's system writes files, beyond what the registry declares."""

    actual_encoding: str | None = None  # for encoding: unknown
    parts: int = 1  # files per extract (at least)
    rows_per_part: int | None = None  # ... and more when the extract is big: chunks of this size
    truncate_last_part: bool = False
    quote_all: bool = False
    drift_column: tuple[str, int] | None = None  # (header, position) of an undeclared column
    sex_codes: bool | None = None  # 1/2 instead of 男/女 (default: by source id)


HABITS: dict[str, Habits] = {
    "ps_3202_household": Habits(drift_column=("人员状态", 3)),
    "ps_3205_household": Habits(actual_encoding="utf-8"),
    "ps_3207_household": Habits(actual_encoding="gb18030"),
    "ps_3209_household": Habits(actual_encoding="utf-8-sig", sex_codes=True),
    "ps_3210_household": Habits(quote_all=True),
    "hrss_social_insurance": Habits(parts=3, rows_per_part=20_000, truncate_last_part=True),
    "ca_marriage_registration": Habits(actual_encoding="gbk"),
}


def habits_of(source: Source) -> Habits:
    return HABITS.get(source.id, Habits())


def part_count(habits: Habits, rows: int) -> int:
    if habits.rows_per_part:
        return max(habits.parts, -(-rows // habits.rows_per_part))
    return habits.parts


def actual_encoding(source: Source) -> str:
    if source.encoding.lower() != "unknown":
        return source.encoding
    return habits_of(source).actual_encoding or "gb18030"


def sends_sex_codes(source: Source) -> bool:
    h = habits_of(source)
    return h.sex_codes if h.sex_codes is not None else zlib.crc32(source.id.encode()) % 3 == 0


# --- the mess plan: (kind, share of the source's rows, minimum count) ------------------------------
# A kind only damages rows it can (an ``x`` needs an ID ending in X, a 15-digit ID someone born
# before 1985), so the share is of all rows and the minimum makes each kind appear at CI scale.

Plan = list[tuple[str, float, int]]

DATASET_MESS: dict[str, Plan] = {
    "household_registration": [("id_check_digit", 0.003, 1), ("id_lowercase_x", 0.012, 0)],
}
SOURCE_MESS: dict[str, Plan] = {
    "ps_3201_household": [("wrong_field_count", 0.003, 1)],
    "ps_3203_household": [("fullwidth", 0.01, 1)],
    "ps_3205_household": [("exact_duplicate", 0.003, 1), ("traditional_name", 0.002, 1)],
    "ps_3206_household": [("id15", 0.03, 1)],
    "ps_3207_household": [("wrong_field_count", 0.003, 1)],
    "ps_3208_household": [("date_alt_format", 0.3, 1)],
    "ps_3209_household": [("id15", 0.02, 1), ("exact_duplicate", 0.002, 1)],
    "ps_3212_household": [("id_lowercase_x", 0.05, 1)],
    "health_birth_records": [("missing_id", 0.2, 1), ("name_typo", 0.005, 1)],
    "health_death_records": [("id15", 0.08, 1), ("missing_id", 0.02, 1), ("name_typo", 0.01, 1)],
    "hrss_social_insurance": [
        ("id_check_digit", 0.002, 1),
        ("id_lowercase_x", 0.015, 0),
        ("fullwidth", 0.005, 1),
        ("missing_id", 0.005, 1),
        ("name_typo", 0.01, 1),
        ("address_typo", 0.01, 1),
        ("exact_duplicate", 0.002, 1),
        ("wrong_field_count", 0.002, 1),
    ],
    "ca_marriage_registration": [
        ("id_check_digit", 0.002, 1),
        ("missing_id", 0.005, 1),
        ("name_typo", 0.01, 1),
        ("traditional_name", 0.003, 1),
        ("exact_duplicate", 0.002, 1),
    ],
    "mr_enterprise_registration": [("exact_duplicate", 0.002, 1), ("name_typo", 0.005, 1)],
    "tax_taxpayer_registry": [
        ("fullwidth", 0.005, 1),
        ("uscc_check_digit", 0.002, 1),
        ("name_typo", 0.01, 1),
        ("address_typo", 0.01, 1),
    ],
    "nr_address_points": [("gcj02_point", 0.01, 1), ("exact_duplicate", 0.001, 1)],
}


def mess_plan(source: Source) -> Plan:
    return DATASET_MESS.get(source.dataset, []) + SOURCE_MESS.get(source.id, [])


# --- who is in which source ----------------------------------------------------------------------


def _expand(weighted: Iterable[tuple[str, int]]) -> list[str]:
    """A list where each value appears as often as its weight: ``pick`` from it is a weighted draw."""
    return [value for value, weight in weighted for _ in range(weight)]


def _prefecture_scope(registry: Registry, source: Source) -> Callable[[str], bool]:
    """Prefecture-level sources cover their prefecture; a province-level one covers the rest."""
    if source.prefecture:
        pref = source.prefecture
        return lambda admin_code: admin_code.startswith(pref)
    covered = tuple(s.prefecture for s in registry.sources_for(source.dataset) if s.prefecture)
    return lambda admin_code: not admin_code.startswith(covered) if covered else True


class Builder:
    def __init__(self, world: World, registry: Registry, source: Source) -> None:
        self.world = world
        self.registry = registry
        self.source = source
        self.rng = random.Random(f"{world.seed}/rows/{source.id}")
        self.in_scope = _prefecture_scope(registry, source)
        self.sex_codes = sends_sex_codes(source)

    def sex(self, code: str) -> str:
        return code if self.sex_codes else ("男" if code == MALE else "女")

    def numbered(self, rows: list[Row], make_no: Callable[[int, Row], str], key: str) -> list[Row]:
        """Shuffle (extracts are not in the truth's order) and number the rows in that order."""
        self.rng.shuffle(rows)
        for i, row in enumerate(rows, start=1):
            row.values[key] = make_no(i, row)
        return rows

    # -- population ---------------------------------------------------------------------------
    def household_registration(self) -> list[Row]:
        sex = self.sex
        rows = [
            Row(
                {
                    "id_number": p.id_number,
                    "name": p.name,
                    "sex": sex(p.sex),
                    "birth_date": p.birth_date,
                    "ethnicity": p.ethnicity,
                    "address": p.address,
                    "admin_code": p.admin_code,
                    "phone": p.phone or None,
                    "registered_on": p.registered_on,
                },
                person_id=p.person_id,
                address_id=p.address_id,
            )
            for p in self.world.persons
            if self.in_scope(p.admin_code)
        ]
        pref = self.source.prefecture or "32"
        return self.numbered(rows, lambda i, _r: f"{pref}{i:010d}", "record_no")

    def birth_records(self) -> list[Row]:
        world, rng = self.world, self.rng
        rows = []
        for p in world.persons:
            if p.birth_date < BIRTHS_FROM or not p.birthplace_code.startswith("32"):
                continue
            mother = world.person_by_id.get(p.mother_id)
            father = world.person_by_id.get(p.father_id)
            city = name_in(p.birthplace_code[:4] + "00", p.birth_date.year) or ""
            district = name_in(p.birthplace_code, p.birth_date.year) or ""
            hospital = f"{city}{district}人民医院" if rng.random() < 0.6 else f"{city}妇幼保健院"
            rows.append(
                Row(
                    {
                        "id_number": p.id_number,
                        "name": p.name,
                        "sex": self.sex(p.sex),
                        "birth_date": p.birth_date,
                        "birthplace_admin_code": p.birthplace_code,
                        "mother_id_number": mother.id_number if mother else None,
                        "father_id_number": father.id_number if father else None,
                        "hospital": hospital,
                    },
                    person_id=p.person_id,
                )
            )
        letters = "PQRSTUVWXYZ"
        return self.numbered(
            rows,
            lambda i, r: f"{letters[r.values['birth_date'].year - BIRTHS_FROM.year]}32{i:07d}",  # type: ignore[union-attr]
            "certificate_no",
        )

    def death_records(self) -> list[Row]:
        causes = _expand(CAUSES_OF_DEATH)
        rows = [
            Row(
                {
                    "id_number": p.id_number,
                    "name": p.name,
                    "sex": self.sex(p.sex),
                    "birth_date": p.birth_date,
                    "death_date": p.death_date,
                    "address": p.address,
                    "cause_code": pick(self.rng, causes),
                },
                person_id=p.person_id,
                address_id=p.address_id,
            )
            for p in self.world.persons
            if p.death_date is not None
        ]
        return self.numbered(
            rows,
            lambda i, r: f"{r.values['death_date'].year}32{i:08d}",  # type: ignore[union-attr]
            "certificate_no",
        )

    def social_insurance_enrollment(self) -> list[Row]:
        world, rng = self.world, self.rng
        types = _expand(INSURANCE_TYPES)
        rows = []
        for p in world.persons:
            if not p.employer_id:
                continue
            lp = world.legal_by_id[p.employer_id]
            start = max(add_years(p.birth_date, 18), lp.established_on, dt.date(1995, 1, 1))
            base = min(max(math.exp(rng.gauss(8.9, 0.45)), 4494.0), 36_000.0)
            rows.append(
                Row(
                    {
                        "id_number": p.id_number,
                        "name": p.name,
                        "sex": self.sex(p.sex),
                        "birth_date": p.birth_date,
                        "phone": p.phone or None,
                        "address": p.address,
                        "employer_uscc": lp.uscc,
                        "employer_name": lp.name,
                        "insurance_type": pick(rng, types),
                        "enrolled_on": random_date(rng, start, world.as_of),
                        "monthly_base": round(base, 2),
                    },
                    person_id=p.person_id,
                    legal_person_id=lp.legal_person_id,
                    address_id=p.address_id,
                )
            )
        return self.numbered(rows, lambda i, _r: f"32{i:012d}", "enrollment_no")

    def marriage_registration(self) -> list[Row]:
        world, rng = self.world, self.rng
        rows = []
        for h in world.persons:
            if h.sex != MALE or not h.spouse_id or h.married_on is None or h.married_on < MARRIAGES_FROM:
                continue
            w = world.person_by_id[h.spouse_id]
            office = h.admin_code if rng.random() < 0.6 else w.admin_code
            events = [("结婚", h.married_on)] + ([("离婚", h.divorced_on)] if h.divorced_on else [])
            for kind, day in events:
                rows.append(
                    Row(
                        {
                            "husband_id_number": h.id_number,
                            "husband_name": h.name,
                            "wife_id_number": w.id_number,
                            "wife_name": w.name,
                            "registered_on": day,
                            "registration_type": kind,
                            "office_admin_code": office,
                        },
                        person_id=h.person_id,
                        person_id_2=w.person_id,
                    )
                )
        return self.numbered(
            rows,
            lambda i, r: "{}{}-{}-{:07d}".format(
                "J" if r.values["registration_type"] == "结婚" else "L",
                r.values["office_admin_code"],
                r.values["registered_on"].year,  # type: ignore[union-attr]
                i,
            ),
            "registration_no",
        )

    # -- legal persons ------------------------------------------------------------------------
    def enterprise_registration(self) -> list[Row]:
        rows = []
        for lp in self.world.legal_persons:
            old = bool(lp.registration_no)
            row = Row(
                {
                    "uscc": lp.uscc or None,
                    "registration_no": lp.registration_no or None,
                    "organization_code": lp.organization_code if old else None,
                    "name": lp.name,
                    "legal_representative_name": lp.legal_rep_name,
                    "legal_representative_id_number": lp.legal_rep_id_number,
                    "registered_address": lp.address,
                    "admin_code": lp.admin_code,
                    "industry_code": lp.industry_code,
                    "entity_type": lp.entity_type,
                    "status": lp.status,
                    "established_on": lp.established_on,
                    "registered_capital": lp.registered_capital,
                },
                person_id=lp.legal_rep_id,
                legal_person_id=lp.legal_person_id,
                address_id=lp.address_id,
            )
            if lp.legacy_only:
                row.messes.append("legacy_id_only")
            rows.append(row)
        self.rng.shuffle(rows)
        return rows

    def taxpayer_registry(self) -> list[Row]:
        world, rng = self.world, self.rng
        rows = []
        for lp in world.legal_persons:
            if lp.status == "注销":
                continue
            row = Row(
                {
                    "taxpayer_id": lp.uscc,
                    "name": lp.name,
                    "legal_representative_name": lp.legal_rep_name,
                    "address": lp.address,
                    "phone": lp.phone,
                    "tax_authority_code": f"1{lp.admin_code}0000",
                    "taxpayer_type": lp.taxpayer_type,
                    "registered_on": min(
                        lp.established_on + dt.timedelta(days=rng.randint(1, 60)), world.as_of
                    ),
                },
                person_id=lp.legal_rep_id,
                legal_person_id=lp.legal_person_id,
                address_id=lp.address_id,
            )
            if lp.legacy_only:  # still on the tax roll under the number it had before the reform
                if rng.random() < 0.5:
                    row.values["taxpayer_id"] = f"{lp.organization_code[:8]}-{lp.organization_code[8]}"
                else:
                    row.values["taxpayer_id"] = lp.registration_no
                row.messes.append("legacy_id_only")
            rows.append(row)
        rng.shuffle(rows)
        return rows

    # -- geography ----------------------------------------------------------------------------
    def address_points(self) -> list[Row]:
        crs = self.source.constants.get("crs", "WGS84")
        mapped = "crs" in self.source.column_map.values()
        rows = []
        for a in self.world.addresses:
            if not self.in_scope(a.admin_code):
                continue
            lon, lat = (a.lon, a.lat) if crs == "WGS84" else wgs84_to_gcj02(a.lon, a.lat)
            row = Row(
                {
                    "address": a.address,
                    "admin_code": a.admin_code,
                    "longitude": lon,
                    "latitude": lat,
                    "crs": crs if mapped else None,
                },
                address_id=a.address_id,
            )
            if crs == "GCJ02":
                row.messes.append("gcj02")
            rows.append(row)
        return self.numbered(
            rows,
            lambda i, r: f"DZ{r.values['admin_code']}{i:08d}",
            "address_id",
        )

    def admin_divisions(self) -> list[Row]:
        level = {Level.PROVINCE: "省级", Level.CITY: "地级", Level.DISTRICT: "县级"}
        return [
            Row(
                {"code": d.code, "name": d.name, "level": level[d.level], "parent_code": d.parent_code},
                division_code=d.code,
            )
            for d in jiangsu_divisions()
        ]


def build_rows(world: World, registry: Registry, source: Source) -> list[Row]:
    builder = Builder(world, registry, source)
    make = getattr(builder, source.dataset, None)
    if make is None:
        raise ValueError(f"the generator does not know dataset {source.dataset!r} (source {source.id})")
    return make()


# --- the mess --------------------------------------------------------------------------------------

ID_FIELDS = {
    "id_number": "person_id",
    "husband_id_number": "person_id",
    "wife_id_number": "person_id_2",
    "legal_representative_id_number": "person_id",
}
NAME_FIELDS = {"name": "person_id", "husband_name": "person_id", "wife_name": "person_id_2"}
PERSON_NAME_DATASETS = {
    "household_registration",
    "birth_records",
    "death_records",
    "social_insurance_enrollment",
    "marriage_registration",
}
CONFUSABLE = dict(
    pair
    for a, b in [
        "伟玮",
        "丽莉",
        "军君",
        "明铭",
        "华桦",
        "静婧",
        "杰洁",
        "磊蕾",
        "敏民",
        "霞侠",
        "红虹",
        "芳方",
        "燕艳",
        "玲琳",
        "峰锋",
        "刚钢",
        "建健",
        "涛滔",
        "斌彬",
        "平萍",
        "辉晖",
        "娟鹃",
        "秀琇",
        "英瑛",
        "兰岚",
        "梅玫",
        "文雯",
        "飞菲",
        "宇雨",
        "超朝",
        "鹏朋",
        "波博",
        "勇永",
        "娜那",
    ]
    for pair in ((a, b), (b, a))
)
#: Which part of a row each kind damages: two kinds never damage the same part of one row.
TARGET = {
    "id_check_digit": "id",
    "id15": "id",
    "id_lowercase_x": "id",
    "fullwidth": "id",
    "missing_id": "id",
    "uscc_check_digit": "id",
    "name_typo": "name",
    "traditional_name": "name",
    "unencodable_char": "name",
    "address_typo": "address",
    "date_alt_format": "dates",
    "gcj02_point": "coordinates",
    "wrong_field_count": "row",
    "exact_duplicate": "row",
}


class Messer:
    def __init__(self, world: World, source: Source, rng: random.Random) -> None:
        self.world = world
        self.source = source
        self.rng = rng
        mapped = set(source.column_map.values())
        self.mapped = mapped
        self.pools = world.pools
        self.id_fields = [f for f in ID_FIELDS if f in mapped]
        if source.dataset in PERSON_NAME_DATASETS:
            self.name_fields = [f for f in NAME_FIELDS if f in mapped]
        else:
            self.name_fields = [f for f in ("legal_representative_name",) if f in mapped]
        self.address_field = next((f for f in ("address", "registered_address") if f in mapped), None)
        self._s2t: Callable[[str], str] | None = None

    # -- which fields of a row a kind could damage (pure: no randomness) --------------------------
    def _ids(self, row: Row, test: Callable[[str, Row, str], bool]) -> list[str]:
        v = row.values
        return [f for f in self.id_fields if isinstance(v.get(f), str) and test(v[f], row, f)]  # type: ignore[arg-type]

    def _born_before_legacy(self, _value: str, row: Row, f: str) -> bool:
        p = self.world.person_by_id.get(getattr(row, ID_FIELDS[f]))
        return p is not None and p.birth_date.year < LEGACY_ID_BEFORE

    def candidates(self, kind: str, row: Row) -> list[str]:
        """The fields of ``row`` that ``kind`` can damage (``["*"]`` for whole-row kinds)."""
        v = row.values
        if kind == "id_check_digit":
            return self._ids(row, lambda x, _r, _f: len(x) == 18)
        if kind == "id15":
            return self._ids(row, self._born_before_legacy)
        if kind == "id_lowercase_x":
            return self._ids(row, lambda x, _r, _f: len(x) == 18 and x.endswith("X"))
        if kind == "missing_id":
            return self._ids(row, lambda _x, _r, _f: True)
        if kind == "fullwidth":
            if self.source.dataset == "taxpayer_registry":
                return ["taxpayer_id"] if v.get("taxpayer_id") and "legacy_id_only" not in row.messes else []
            return self._ids(row, lambda _x, _r, _f: True)
        if kind == "uscc_check_digit":
            x = v.get("taxpayer_id")
            return (
                ["taxpayer_id"]
                if isinstance(x, str) and len(x) == 18 and "legacy_id_only" not in row.messes
                else []
            )
        if kind == "name_typo":
            return [f for f in self.name_fields if v.get(f)]
        if kind == "traditional_name":
            return [f for f in self.name_fields if v.get(f) and self.s2t(str(v[f])) != v[f]]
        if kind == "address_typo":
            return [self.address_field] if self.address_field and v.get(self.address_field) else []
        if kind == "date_alt_format":
            return ["*"] if len(self.source.date_formats) > 1 else []
        if kind == "gcj02_point":
            return ["*"] if v.get("crs") == "WGS84" else []
        if kind == "wrong_field_count":
            return ["*"] if self.source.format.value == "csv" else []
        if kind == "exact_duplicate":
            return ["*"] if not row.invalid else []
        raise ValueError(f"unknown mess kind {kind!r}")

    def eligible(self, kind: str, row: Row) -> bool:
        if row.messes and kind != "exact_duplicate":
            target = TARGET[kind]
            if any(TARGET.get(m) == target for m in row.messes):
                return False
        return bool(self.candidates(kind, row))

    def s2t(self, text: str) -> str:
        if self._s2t is None:
            import opencc

            self._s2t = opencc.OpenCC("s2t").convert
        return self._s2t(text)

    def apply(self, kind: str, row: Row) -> None:
        rng, v = self.rng, row.values
        f = rng.choice(self.candidates(kind, row))
        if kind == "id_check_digit":
            v[f] = ids.wrong_check_char(str(v[f]), rng)
            row.invalid = row.invalid or "id_check_digit"
        elif kind == "id15":
            v[f] = ids.legacy_id15(str(v[f]))
        elif kind == "id_lowercase_x":
            v[f] = str(v[f])[:-1] + "x"
        elif kind == "missing_id":
            v[f] = None
        elif kind == "fullwidth":
            v[f] = ids.to_fullwidth(str(v[f]))
            if f != "taxpayer_id" and isinstance(v.get("phone"), str) and "phone" in self.mapped:
                v["phone"] = ids.to_fullwidth(str(v["phone"]))
        elif kind == "uscc_check_digit":
            v[f] = ids.wrong_uscc_check(str(v[f]), rng)
            row.invalid = row.invalid or "uscc_check_digit"
        elif kind == "name_typo":
            v[f] = self.typo(str(v[f]))
        elif kind == "traditional_name":
            v[f] = self.s2t(str(v[f]))
        elif kind == "address_typo":
            v[f] = self.address_typo(str(v[f]))
        elif kind == "date_alt_format":
            row.date_format = rng.choice(self.source.date_formats[1:])
        elif kind == "gcj02_point":
            v["longitude"], v["latitude"] = wgs84_to_gcj02(float(v["longitude"]), float(v["latitude"]))  # type: ignore[arg-type]
            v["crs"] = "GCJ02"
        elif kind == "wrong_field_count":
            row.broken = (
                "extra_field" if self.address_field and v.get(self.address_field) else "missing_field"
            )
            row.invalid = row.invalid or "wrong_field_count"
        row.messes.append(kind)

    def typo(self, name: str) -> str:
        """One character changed: a look-alike if there is one, else another common name char."""
        positions = [i for i in range(1, len(name)) if name[i] in CONFUSABLE] or list(range(1, len(name)))
        i = self.rng.choice(positions)
        if name[i] in CONFUSABLE:
            new = CONFUSABLE[name[i]]
        else:
            pool = self.pools.male_chars + self.pools.female_chars
            new = self.rng.choice([c for c in pool if c != name[i]])
        return name[:i] + new + name[i + 1 :]

    def address_typo(self, address: str) -> str:
        options = []
        if re.search(r"\d+号", address):
            options.append("number")
        if "幢" in address:
            options.append("building")
        if "路" in address or "街" in address:
            options.append("road")
        kind = self.rng.choice(options)
        if kind == "number":
            return re.sub(
                r"(\d+)号", lambda m: f"{int(m.group(1)) + self.rng.randint(1, 9)}号", address, count=1
            )
        if kind == "building":
            return address.replace("幢", "栋", 1)
        table = str.maketrans({"路": "街", "街": "路"})
        i = max(address.rfind("路"), address.rfind("街"))
        return address[:i] + address[i].translate(table) + address[i + 1 :]


def _choose(rng: random.Random, rows: list[Row], eligible: Callable[[Row], bool], count: int) -> list[int]:
    """``count`` random indices of eligible rows (fewer if there are not that many), ascending.

    Draws at random and tests only what it draws, so a small rate costs little on a big extract;
    falls back to a full scan when eligible rows are too rare for that to find them.
    """
    n = len(rows)
    if count <= 0 or n == 0:
        return []
    chosen: set[int] = set()
    tried: set[int] = set()
    for _ in range(20 * count + 200):
        i = int(rng.random() * n)
        if i in tried:
            continue
        tried.add(i)
        if eligible(rows[i]):
            chosen.add(i)
            if len(chosen) == count:
                return sorted(chosen)
    rest = [i for i in range(n) if i not in tried and eligible(rows[i])]
    chosen.update(rng.sample(rest, min(len(rest), count - len(chosen))))
    return sorted(chosen)


def apply_mess(
    world: World, source: Source, rows: list[Row], encoding: str, parts: int = 1
) -> list[list[Row]]:
    """Damage rows as the plan says; returns the rows of each part file, duplicates inserted.

    A duplicate lands after its original in the same part file, as a re-sent record would.
    """
    rng = random.Random(f"{world.seed}/mess/{source.id}")
    messer = Messer(world, source, rng)
    duplicates: set[int] = set()
    for kind, rate, minimum in mess_plan(source):
        chosen = _choose(
            rng, rows, lambda row, k=kind: messer.eligible(k, row), max(minimum, round(rate * len(rows)))
        )
        if kind == "exact_duplicate":
            duplicates.update(chosen)
            continue
        for i in chosen:
            messer.apply(kind, rows[i])
    if encoding.lower().replace("_", "-") in ("gbk", "cp936", "gb2312"):
        _unencodable(source, rows)
    bounds = [round(len(rows) * k / parts) for k in range(parts + 1)]
    out: list[list[Row]] = []
    for start, end in itertools.pairwise(bounds):
        inserts: dict[int, list[Row]] = {}
        for i in sorted(duplicates & set(range(start, end))):
            inserts.setdefault(rng.randint(i, end - 1), []).append(_copy(rows[i]))
        part: list[Row] = []
        for i in range(start, end):
            part.append(rows[i])
            part.extend(inserts.get(i, ()))
        out.append(part)
    return out


def _copy(original: Row) -> Row:
    return Row(
        dict(original.values),
        original.person_id,
        original.person_id_2,
        original.legal_person_id,
        original.address_id,
        original.division_code,
        [*original.messes, "exact_duplicate"],
        original.invalid,
        original.broken,
        original.date_format,
        original,
    )


def _unencodable(source: Source, rows: Iterable[Row]) -> None:
    """Names the file's GBK cannot hold: the sender's system writes ``?`` for the character."""
    fields = [f for f in (*NAME_FIELDS, "legal_representative_name") if f in source.column_map.values()]
    for row in rows:
        for f in fields:
            value = row.values.get(f)
            if isinstance(value, str) and not _encodes(value, "gbk"):
                row.values[f] = value.encode("gbk", "replace").decode("gbk")
                row.messes.append("unencodable_char")


def _encodes(text: str, codec: str) -> bool:
    try:
        text.encode(codec)
    except UnicodeEncodeError:
        return False
    return True


def drift_value(world: World, row: Row) -> str:
    """The undeclared 人员状态 (person status) column one bureau started sending."""
    p = world.person_by_id.get(row.person_id)
    if p is None:
        return ""
    return "死亡" if p.death_date else "正常"
