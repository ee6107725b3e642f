"""GB/T 2260 reference data for Jiangsu."""

from __future__ import annotations

from collections import Counter

from govlake.reference import admin_divisions as ad
from synthetic.geo import JIANGSU_LAT, JIANGSU_LON


def test_jiangsu_hierarchy_is_current():
    divisions = ad.jiangsu_divisions()
    levels = Counter(d.level for d in divisions)
    assert levels == {ad.Level.PROVINCE: 1, ad.Level.CITY: 13, ad.Level.DISTRICT: 95}
    assert list(ad.jiangsu_prefectures()) == [f"32{i:02d}" for i in range(1, 14)]
    by_code = {d.code: d for d in divisions}
    assert by_code["320000"].parent_code is None
    for d in divisions[1:]:
        assert d.parent_code == (d.code[:4] + "00" if d.level is ad.Level.DISTRICT else "320000")
        assert "市辖区" not in d.name
    # the 2020 Nantong changes are in; abolished districts are not
    assert by_code["320613"].name == "崇川区" and by_code["320614"].name == "海门区"
    assert "320602" not in by_code and "320103" not in by_code
    # 55 districts, 21 county-level cities, 19 counties
    assert Counter(d.name[-1] for d in divisions if d.level is ad.Level.DISTRICT) == {
        "区": 55,
        "市": 21,
        "县": 19,
    }
    assert ad.data_vintage() >= 2020


def test_history_is_kept():
    assert ad.name_in("320103", 1990) == "白下区" and ad.name_in("320103") is None
    assert ad.name_in("320800", 1995) == "淮阴市" and ad.name_in("320800") == "淮安市"
    assert "320103" in ad.county_codes_valid_in(2000, "32")
    assert "320103" not in ad.county_codes_valid_in(2020, "32")
    assert ad.jiangsu_divisions(1990)[0].code == "320000"
    assert all(d.code[:4] != "3212" for d in ad.jiangsu_divisions(1990))  # Taizhou city came in 1996


def test_centroids_cover_every_division_inside_jiangsu():
    centroids = ad.district_centroids()
    for d in ad.jiangsu_divisions()[1:]:
        lon, lat = centroids[d.code]
        assert JIANGSU_LON[0] <= lon <= JIANGSU_LON[1] and JIANGSU_LAT[0] <= lat <= JIANGSU_LAT[1], d


def test_ethnic_groups():
    groups = ad.ethnic_groups()
    assert len(groups) == 56 and groups[0] == "汉族" and len(set(groups)) == 56
