"""Coordinates (GCJ-02 <-> WGS84) and the H3 grid."""

from __future__ import annotations

import math
import random

import h3
import pytest

from jobs.silver.rules import coordinates as coords
from jobs.silver.rules import grid

# ---- Python reference: the published GCJ-02 transform (Krasovsky a, e^2), written out independently.
_A = 6378245.0
_EE = 0.00669342162296594323


def _out_of_china(lon: float, lat: float) -> bool:
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _t_lat(x: float, y: float) -> float:
    r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    r += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    r += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    r += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return r


def _t_lon(x: float, y: float) -> float:
    r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    r += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    r += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    r += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return r


def ref_wgs_to_gcj(lon: float, lat: float) -> tuple[float, float]:
    if _out_of_china(lon, lat):
        return lon, lat
    d_lat = _t_lat(lon - 105.0, lat - 35.0)
    d_lon = _t_lon(lon - 105.0, lat - 35.0)
    rad = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(rad) ** 2
    d_lat = d_lat * 180.0 / ((_A * (1 - _EE)) / (magic * math.sqrt(magic)) * math.pi)
    d_lon = d_lon * 180.0 / (_A / math.sqrt(magic) * math.cos(rad) * math.pi)
    return lon + d_lon, lat + d_lat


def _metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Equirectangular distance, plenty for sub-metre comparisons."""
    k = 6371008.8 * math.pi / 180.0
    return math.hypot((lon1 - lon2) * k * math.cos(math.radians(lat1)), (lat1 - lat2) * k)


# (wgs lon, wgs lat, gcj lon, gcj lat): eviltransform's Python tests (Shanghai, Shenzhen, Beijing)
# and the wandergis/coordtransform value Hutool's tests use (Tiananmen).
KNOWN = [
    (121.5272106, 31.1774276, 121.531541859215, 31.17530398364597),
    (113.912316, 22.543847, 113.9171764808363, 22.540796131694766),
    (116.377817, 39.911954, 116.38404722455657, 39.91334545536069),
    (116.404, 39.915, 116.41024449916938, 39.91640428150164),
]


def _run(spark, rule, points):
    df = spark.createDataFrame(
        [(i, lo, la) for i, (lo, la) in enumerate(points)], "i int, lon double, lat double"
    )
    return [r["o"] for r in df.select("i", rule(df["lon"], df["lat"]).alias("o")).orderBy("i").collect()]


def test_reference_matches_known_vectors():
    for wlon, wlat, glon, glat in KNOWN:
        lon, lat = ref_wgs_to_gcj(wlon, wlat)
        assert lon == pytest.approx(glon, abs=1e-12) and lat == pytest.approx(glat, abs=1e-12)


def test_wgs84_to_gcj02_known_vectors(spark):
    got = _run(spark, coords.wgs84_to_gcj02, [(w, a) for w, a, _, _ in KNOWN])
    for (_, _, glon, glat), p in zip(KNOWN, got, strict=True):
        assert p["lon"] == pytest.approx(glon, abs=1e-9) and p["lat"] == pytest.approx(glat, abs=1e-9)


def test_gcj02_to_wgs84_known_vectors(spark):
    got = _run(spark, coords.gcj02_to_wgs84, [(g, a) for _, _, g, a in KNOWN])
    for (wlon, wlat, _, _), p in zip(KNOWN, got, strict=True):
        assert _metres(p["lon"], p["lat"], wlon, wlat) < 0.01
    # one step is the common approximate inverse: Hutool's gcj02ToWgs84(116.404, 39.915)
    one = _run(spark, lambda lo, la: coords.gcj02_to_wgs84(lo, la, iterations=1), [(116.404, 39.915)])[0]
    assert one["lon"] == pytest.approx(116.39775550083061, abs=1e-9)


def test_round_trip_property(spark):
    rng = random.Random(2006)
    wgs = [(rng.uniform(116.3, 121.9), rng.uniform(30.7, 35.2)) for _ in range(400)]  # Jiangsu
    wgs += [(rng.uniform(73.0, 135.0), rng.uniform(18.0, 53.0)) for _ in range(400)]  # all of China
    gcj = [ref_wgs_to_gcj(lo, la) for lo, la in wgs]
    exact = _run(spark, coords.gcj02_to_wgs84, gcj)
    approx = _run(spark, lambda lo, la: coords.gcj02_to_wgs84(lo, la, iterations=1), gcj)
    worst = max(_metres(p["lon"], p["lat"], lo, la) for p, (lo, la) in zip(exact, wgs, strict=True))
    worst_one = max(_metres(p["lon"], p["lat"], lo, la) for p, (lo, la) in zip(approx, wgs, strict=True))
    assert worst < 1e-3  # sub-millimetre with 3 iterations
    assert 0.1 < worst_one < 5  # the one-step inverse is off by up to metres: the iterations matter


def test_out_of_china_passes_through(spark):
    points = [(2.3522, 48.8566), (-74.006, 40.7128), (151.2093, -33.8688)]  # Paris, New York, Sydney
    for rule in (coords.wgs84_to_gcj02, coords.gcj02_to_wgs84):
        got = _run(spark, rule, points)
        assert [(p["lon"], p["lat"]) for p in got] == points


def test_to_wgs84_dispatch_and_reasons(spark):
    rows = [
        ("121.531541859215", "31.17530398364597", "GCJ-02"),
        ("121.5272106", "31.1774276", "WGS84"),
        ("118.7969", "32.0603", "CGCS2000"),
        ("2.3522", "48.8566", "wgs-84"),
        (None, "31.2", "WGS84"),
        ("", "31.2", "WGS84"),
        ("121.5E", "31.2", "WGS84"),
        ("190", "31.2", "WGS84"),
        ("121.5", "31.2", "BD09"),
        ("121.5", "31.2", None),
    ]
    df = spark.createDataFrame(list(enumerate(rows)), "i int, r struct<lon:string,lat:string,crs:string>")
    out = [
        r["o"]
        for r in df.select("i", coords.to_wgs84(df["r.lon"], df["r.lat"], df["r.crs"]).alias("o"))
        .orderBy("i")
        .collect()
    ]
    assert _metres(out[0]["lon"], out[0]["lat"], 121.5272106, 31.1774276) < 0.01
    assert (out[1]["lon"], out[1]["lat"]) == (121.5272106, 31.1774276)
    assert (out[2]["lon"], out[2]["lat"]) == (118.7969, 32.0603)
    assert [o["out_of_china"] for o in out[:4]] == [False, False, False, True]
    assert [o["invalid_reason"] for o in out] == [
        None,
        None,
        None,
        None,
        "MISSING",
        "MISSING",
        "BAD_NUMBER",
        "OUT_OF_RANGE",
        "UNKNOWN_CRS",
        "UNKNOWN_CRS",
    ]
    assert all(o["lon"] is None and o["lat"] is None for o in out[4:])


def test_h3_cell_matches_h3_package(spark):
    rng = random.Random(9)
    points = [(rng.uniform(116.3, 121.9), rng.uniform(30.7, 35.2)) for _ in range(300)]
    got = _run(spark, grid.h3_cell, points)
    assert got == [h3.latlng_to_cell(la, lo, grid.DEFAULT_RESOLUTION) for lo, la in points]
    # Nanjing, Xinjiekou at resolution 9 and a coarser resolution
    assert _run(spark, grid.h3_cell, [(118.79, 32.06)]) == ["89309119533ffff"]
    res7 = _run(spark, lambda lo, la: grid.h3_cell(lo, la, resolution=7), [(118.79, 32.06)])[0]
    assert res7 == h3.cell_to_parent("89309119533ffff", 7)


def test_h3_cell_nulls_and_bad_values(spark):
    df = spark.createDataFrame(
        [
            (0, "118.79", "32.06"),
            (1, None, "32.06"),
            (2, "abc", "32.06"),
            (3, "118.79", "95"),
            (4, "NaN", "1"),
        ],
        "i int, lon string, lat string",
    )
    got = [
        r["c"] for r in df.select("i", grid.h3_cell(df["lon"], df["lat"]).alias("c")).orderBy("i").collect()
    ]
    assert got == ["89309119533ffff", None, None, None, None]
    with pytest.raises(ValueError):
        grid.h3_cell(df["lon"], df["lat"], resolution=16)
