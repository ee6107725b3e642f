"""WGS84 -> GCJ-02 against published reference values."""

from __future__ import annotations

import pytest

from synthetic.geo import wgs84_to_gcj02

# (wgs lat, wgs lon, gcj lat, gcj lon): the test vectors published with the eviltransform library
VECTORS = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]


@pytest.mark.parametrize(("wlat", "wlon", "glat", "glon"), VECTORS)
def test_published_vectors(wlat, wlon, glat, glon):
    lon, lat = wgs84_to_gcj02(wlon, wlat)
    assert lon == pytest.approx(glon, abs=1e-9) and lat == pytest.approx(glat, abs=1e-9)


def test_shift_in_jiangsu_is_hundreds_of_metres_and_none_abroad():
    lon, lat = wgs84_to_gcj02(118.796, 32.060)  # Nanjing
    assert 0.002 < abs(lon - 118.796) + abs(lat - 32.060) < 0.01
    assert wgs84_to_gcj02(2.35, 48.85) == (2.35, 48.85)
