"""The generated tree: files as declared, ground truth complete and right, the mess as recorded."""

from __future__ import annotations

import csv
import fnmatch
import re
import unicodedata
import zipfile
from collections import Counter
from pathlib import Path

import pytest
from stdnum.cn import ric, uscc
from stdnum.iso7064 import mod_11_10

from govlake.registry import FileFormat
from synthetic.geo import JIANGSU_LAT, JIANGSU_LON, wgs84_to_gcj02

ALL_MESS = {
    "id_check_digit",
    "id15",
    "id_lowercase_x",
    "fullwidth",
    "missing_id",
    "name_typo",
    "traditional_name",
    "address_typo",
    "date_alt_format",
    "uscc_check_digit",
    "legacy_id_only",
    "gcj02",
    "gcj02_point",
    "unencodable_char",
    "exact_duplicate",
    "wrong_field_count",
    "truncated_file",
}
ID_COLUMNS = {"id_number": "person_id", "husband_id_number": "person_id", "wife_id_number": "person_id_2"}


def _messes(row: dict[str, str]) -> set[str]:
    return set(filter(None, row["messes"].split(";")))


# --- same seed, same bytes ------------------------------------------------------------------------


def test_same_seed_same_bytes_whatever_the_worker_count(generated, tmp_path, scale_seed, digest):
    from synthetic.generator import generate

    scale, seed = scale_seed
    generate(tmp_path / "again", scale, seed, progress=False, workers=2)
    assert digest(tmp_path / "again") == digest(generated)
    generate(tmp_path / "other", scale, seed + 1, progress=False, workers=1)
    assert digest(tmp_path / "other" / "landing") != digest(generated / "landing")


# --- the files are what the registry says ----------------------------------------------------------


def test_every_source_sends_files_as_declared(generated, registry, truth_files):
    by_source = Counter(f["source_id"] for f in truth_files)
    assert set(by_source) == set(registry.sources)
    on_disk = {p.relative_to(generated / "landing").as_posix() for p in (generated / "landing").rglob("*.*")}
    assert on_disk == {f"{f['source_id']}/{f['file']}" for f in truth_files}
    for f in truth_files:
        source = registry.source(f["source_id"])
        data = (generated / "landing" / source.id / f["file"]).read_bytes()
        assert fnmatch.fnmatch(f["file"], source.file_pattern)
        if source.format is FileFormat.XLSX:
            with zipfile.ZipFile(generated / "landing" / source.id / f["file"]) as z:
                core = z.read("docProps/core.xml").decode()
                assert "2000-01-01T00:00:00Z" in core  # fixed created / modified, not the clock
                assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
            continue
        declared = source.encoding
        codec = f["encoding_actual"] if declared == "unknown" else declared
        assert data.startswith(b"\xef\xbb\xbf") == (codec == "utf-8-sig") == (f["bom"] == "true")
        data.decode(codec)  # strict: every byte valid in the declared (or, if unknown, true) codec
        if codec in ("gbk", "gb18030"):
            with pytest.raises(UnicodeDecodeError):
                data.decode("utf-8")
        else:
            data.decode("utf-8")
    declared_unknown = {f["encoding_actual"] for f in truth_files if f["encoding_declared"] == "unknown"}
    assert {"utf-8", "gb18030", "gbk", "utf-8-sig"} <= declared_unknown


def test_headers_are_the_registry_columns(landing):
    for lf in landing.values():
        mapped = [h for h in lf.header if h in lf.source.column_map]
        assert mapped == lf.header or lf.source.id == "ps_3202_household", lf.path
        assert len(set(mapped)) == len(mapped)
    drift = landing_by_source(landing, "ps_3202_household")[0]
    assert [h for h in drift.header if h not in drift.source.column_map] == ["人员状态"]


def landing_by_source(landing, source_id):
    return [lf for lf in landing.values() if lf.source.id == source_id]


# --- ground truth covers every row ------------------------------------------------------------------


def test_truth_covers_every_data_row(landing, truth_rows, truth_files):
    assert {(f["source_id"], f["file"]) for f in truth_files} == set(truth_rows)
    for f in truth_files:
        rows = truth_rows[(f["source_id"], f["file"])]
        lf = landing[f["file"]]
        assert len(rows) == len(lf.rows) == int(f["data_rows"]), f["file"]
        assert [int(r["row_number"]) for r in rows] == list(range(1, len(rows) + 1))
        for r in rows:
            assert r["person_id"] or r["legal_person_id"] or r["address_id"] or r["division_code"]


def test_row_counts_follow_the_scale(generated, persons, legal_persons, truth_rows, scale_seed):
    scale, _ = scale_seed
    assert len(persons) == scale
    assert len(legal_persons) == max(40, scale // 10)
    household = [r for (sid, _), rows in truth_rows.items() if sid.endswith("_household") for r in rows]
    dups = sum(1 for r in household if r["duplicate_of"])
    assert len(household) == scale + dups
    assert {r["person_id"] for r in household} == set(persons)
    market = truth_rows[next(k for k in truth_rows if k[0] == "mr_enterprise_registration")]
    assert {r["legal_person_id"] for r in market} == set(legal_persons)
    with (generated / "truth" / "addresses.csv").open(encoding="utf-8") as fh:
        addresses = list(csv.DictReader(fh))
    points = [r for (sid, _), rows in truth_rows.items() if "address_points" in sid for r in rows]
    assert {r["address_id"] for r in points} == {a["address_id"] for a in addresses}
    for a in addresses:
        assert JIANGSU_LON[0] <= float(a["lon_wgs84"]) <= JIANGSU_LON[1]
        assert JIANGSU_LAT[0] <= float(a["lat_wgs84"]) <= JIANGSU_LAT[1]


def test_every_kind_of_mess_appears(truth_rows, generated):
    seen = Counter(m for rows in truth_rows.values() for r in rows for m in _messes(r))
    assert set(seen) == ALL_MESS
    reasons = Counter(r["invalid_reason"] for rows in truth_rows.values() for r in rows)
    assert set(reasons) == {
        "",
        "id_check_digit",
        "uscc_check_digit",
        "wrong_field_count",
        "truncated_row",
        "truncated_file",
    }
    assert reasons[""] > 0.9 * sum(reasons.values())  # small controlled rates


# --- the true entities are valid ---------------------------------------------------------------------


def test_true_ids_and_codes_pass_independent_validators(persons, legal_persons):
    for p in persons.values():
        assert ric.is_valid(p["id_number"]), p
        assert p["id_number"][6:14] == p["birth_date"].replace("-", "")
        assert int(p["id_number"][16]) % 2 == (1 if p["sex"] == "1" else 0)
        assert p["id_number"][:6] == p["birthplace_code"]
        if p["id_number_15"]:
            assert p["id_number_15"] == p["id_number"][:6] + p["id_number"][8:17]
    for lp in legal_persons.values():
        if lp["uscc"]:
            assert uscc.is_valid(lp["uscc"]), lp
            assert lp["uscc"][8:17] == lp["organization_code"]
        else:
            assert lp["registration_no"] and lp["status"] in ("吊销", "注销")
        if lp["registration_no"]:
            assert mod_11_10.is_valid(lp["registration_no"])
        assert lp["legal_representative_person_id"] in persons
        assert persons[lp["legal_representative_person_id"]]["name"] == lp["legal_representative_name"]


def test_birthplaces_are_the_codes_valid_at_birth_and_map_to_current_ones(persons):
    """The generator sends abolished codes on purpose: an ID (and a birth certificate) keeps the
    birthplace code valid in the birth year. Each must map to a current code in silver."""
    from govlake.reference.admin_divisions import (
        county_codes_valid_in,
        current_code,
        jiangsu_division_history,
    )
    from synthetic.pools import build_pools

    current = {h.code for h in jiangsu_division_history() if h.is_current}
    abolished = Counter()
    for p in persons.values():
        born, place = int(p["birth_date"][:4]), p["birthplace_code"]
        assert place in county_codes_valid_in(born), p
        assert p["admin_code"] in current  # where they live now: always a current district
        if place.startswith("32") and place not in current:
            assert current_code(place) in current, p
            abolished[place] += 1
    assert abolished  # e.g. 320103 白下区 for Nanjing residents born before 2013
    # births on the health commission's certificates (2016 on) in Nantong before 2020: 320602 崇川区
    by_pref, _, _ = build_pools(11).birthplace_codes(2018)
    assert {"320602", "320611", "320684"} <= set(by_pref["3206"])


# --- every row says what the truth says, except where the mess says otherwise ---------------------------


def test_ids_in_the_files(landing, truth_rows, persons):
    checked = Counter()
    for (_sid, name), rows in truth_rows.items():
        lf = landing[name]
        for i, r in enumerate(rows):
            if lf.rows[i] is None:
                assert r["invalid_reason"] in ("wrong_field_count", "truncated_row")
                continue
            rec = lf.record(i)
            messes = _messes(r)
            for column, ref in ID_COLUMNS.items():
                if column not in rec or not r[ref]:
                    continue
                sent, true = rec[column], persons[r[ref]]
                if sent == true["id_number"]:
                    assert ric.is_valid(sent)
                    checked["exact"] += 1
                elif sent == "":
                    assert "missing_id" in messes
                    checked["missing"] += 1
                elif len(sent) == 15:
                    assert "id15" in messes and sent == true["id_number_15"]
                    checked["id15"] += 1
                elif sent.endswith("x"):
                    assert "id_lowercase_x" in messes and sent.upper() == true["id_number"]
                    checked["x"] += 1
                elif sent != unicodedata.normalize("NFKC", sent):
                    assert "fullwidth" in messes
                    assert unicodedata.normalize("NFKC", sent) == true["id_number"]
                    checked["fullwidth"] += 1
                else:
                    assert "id_check_digit" in messes and r["invalid_reason"] == "id_check_digit"
                    assert sent[:17] == true["id_number"][:17] and not ric.is_valid(sent)
                    checked["bad"] += 1
    assert set(checked) == {"exact", "missing", "id15", "x", "fullwidth", "bad"}


def test_names_and_addresses_in_the_files(landing, truth_rows, persons, scale_seed):
    import opencc

    s2t = opencc.OpenCC("s2t").convert
    checked = Counter()
    for (sid, name), rows in truth_rows.items():
        lf = landing[name]
        if not sid.endswith("_household") and sid not in ("hrss_social_insurance", "health_death_records"):
            continue
        for i, r in enumerate(rows):
            if lf.rows[i] is None:
                continue
            rec, true, messes = lf.record(i), persons[r["person_id"]], _messes(r)
            if "name_typo" in messes:
                assert len(rec["name"]) == len(true["name"])
                assert sum(a != b for a, b in zip(rec["name"], true["name"], strict=True)) == 1
            elif "traditional_name" in messes:
                assert rec["name"] == s2t(true["name"]) != true["name"]
            elif "unencodable_char" in messes:
                assert "?" in rec["name"] and rec["name"] != true["name"]
            else:
                assert rec["name"] == true["name"]
            checked["name"] += 1
            if "address" in rec:
                assert (rec["address"] != true["address"]) == ("address_typo" in messes)
            if "birth_date" in rec and isinstance(rec["birth_date"], str) and "年" in rec["birth_date"]:
                y, rest = rec["birth_date"].split("年")
                m, d = rest.rstrip("日").split("月")
                assert f"{int(y):04d}-{int(m):02d}-{int(d):02d}" == true["birth_date"]
                checked["date"] += 1
    assert checked["name"] > scale_seed[0] and checked["date"] > 0


def test_mixed_date_formats_in_one_source(landing, truth_rows):
    lf = landing_by_source(landing, "ps_3208_household")[0]
    rows = truth_rows[("ps_3208_household", lf.path.name)]
    kinds = Counter()
    for i, r in enumerate(rows):
        value = lf.record(i)["birth_date"]
        kind = "cn" if "年" in value else "slash"
        assert (kind == "cn") == ("date_alt_format" in _messes(r))
        kinds[kind] += 1
    assert kinds["cn"] and kinds["slash"]


def test_uscc_and_legacy_ids_in_the_tax_file(landing, truth_rows, legal_persons):
    lf = landing_by_source(landing, "tax_taxpayer_registry")[0]
    kinds = Counter()
    for i, r in enumerate(truth_rows[("tax_taxpayer_registry", lf.path.name)]):
        sent, true, messes = lf.record(i)["taxpayer_id"], legal_persons[r["legal_person_id"]], _messes(r)
        if "legacy_id_only" in messes:
            assert not true["uscc"]
            assert sent in (
                true["registration_no"],
                f"{true['organization_code'][:8]}-{true['organization_code'][8]}",
            )
            kinds["legacy"] += 1
        elif "uscc_check_digit" in messes:
            assert sent[:17] == true["uscc"][:17] and not uscc.is_valid(sent)
            kinds["bad"] += 1
        elif "fullwidth" in messes:
            assert unicodedata.normalize("NFKC", sent) == true["uscc"] != sent
            kinds["fullwidth"] += 1
        else:
            assert sent == true["uscc"] and uscc.is_valid(sent)
            kinds["ok"] += 1
    assert set(kinds) == {"legacy", "bad", "fullwidth", "ok"}


def test_structural_breakage(landing, truth_rows, truth_files):
    truncated = [f for f in truth_files if f["truncated"] == "true"]
    assert len(truncated) == 1
    lf = landing[truncated[0]["file"]]
    assert not lf.path.read_bytes().endswith(b"\n")
    rows = truth_rows[(truncated[0]["source_id"], truncated[0]["file"])]
    assert {r["invalid_reason"] for r in rows[:-1]} == {"truncated_file"}
    assert rows[-1]["invalid_reason"] == "truncated_row" and lf.rows[-1] is None
    broken = 0
    for (_sid, name), rows in truth_rows.items():
        lf = landing[name]
        for i, r in enumerate(rows):
            if r["invalid_reason"] == "wrong_field_count":
                assert lf.rows[i] is None
                broken += 1
            elif r["invalid_reason"] != "truncated_row":
                assert lf.rows[i] is not None, (name, i)
            if r["duplicate_of"]:
                j = int(r["duplicate_of"]) - 1
                assert j < i and r["person_id"] == rows[j]["person_id"]
                assert (lf.raw[i] == lf.raw[j]) if lf.raw else (lf.rows[i] == lf.rows[j])
    assert broken >= 2


def test_coordinates(generated, landing, truth_rows):
    with (generated / "truth" / "addresses.csv").open(encoding="utf-8") as fh:
        addresses = {a["address_id"]: a for a in csv.DictReader(fh)}
    seen = Counter()
    for sid in ("nr_address_points", "nr_3205_address_points"):
        lf = landing_by_source(landing, sid)[0]
        for i, r in enumerate(truth_rows[(sid, lf.path.name)]):
            rec, a = lf.record(i), addresses[r["address_id"]]
            lon, lat = float(rec["longitude"]), float(rec["latitude"])
            wgs = (float(a["lon_wgs84"]), float(a["lat_wgs84"]))
            if _messes(r) & {"gcj02", "gcj02_point"}:
                expected = wgs84_to_gcj02(*wgs)
                assert rec.get("crs", "GCJ02") == "GCJ02"
                seen["gcj02"] += 1
            else:
                expected = wgs
                assert rec["crs"] == "WGS84"
                seen["wgs84"] += 1
            assert lon == pytest.approx(expected[0], abs=2e-6) and lat == pytest.approx(expected[1], abs=2e-6)
            assert rec["address"] == a["address"] and rec["admin_code"] == a["admin_code"]
    assert seen["gcj02"] and seen["wgs84"]


def test_the_admin_division_extract_is_the_reference(landing):
    from govlake.reference.admin_divisions import jiangsu_divisions

    lf = landing_by_source(landing, "ca_admin_divisions")[0]
    sent = [lf.record(i) for i in range(len(lf.rows))]
    assert [(r["code"], r["name"], r["parent_code"]) for r in sent] == [
        (d.code, d.name, d.parent_code or "") for d in jiangsu_divisions()
    ]


def test_truth_never_leaks_into_landing(generated, truth_files):
    truth_id = re.compile(r"\b[PLAH]\d{8}\b")  # person, legal person, address, household ids
    for f in truth_files:
        if f["format"] != "xlsx":
            text = (
                (generated / "landing" / f["source_id"] / f["file"]).read_bytes().decode(f["encoding_actual"])
            )
            assert not truth_id.search(text), f["file"]
    assert sorted(p.name for p in (generated / "truth").iterdir()) == [
        "addresses.csv",
        "files.csv",
        "legal_persons.csv",
        "manifest.json",
        "persons.csv",
        "rows.csv",
    ]
    assert Path(generated / "truth" / "manifest.json").read_text(encoding="utf-8").count('"seed": 11') == 1
