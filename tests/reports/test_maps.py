"""The report's maps: topology decoding, projection, simplification, state borders, and the
municipal section on hand-made marts (values checked by hand)."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import numpy as np
import pytest
from municipal_fixture import ARCS, GEOMETRIES, TRANSFORM, add_municipal_marts

from migsys.reports import maps
from migsys.reports.municipal_section import municipal_section
from migsys.reports.queries import Absent


@pytest.fixture()
def fixture_con(tmp_path: Path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create schema marts")
    add_municipal_marts(con)
    yield con
    con.close()


def test_decode_arc_accumulates_deltas_and_applies_the_transform() -> None:
    points = maps.decode_arc([[10, 10], [-10, 0], [0, -10]], TRANSFORM)
    np.testing.assert_allclose(points, [[-101.9, 20.1], [-102.0, 20.1], [-102.0, 20.0]])


def test_lambert_conformal_conic_keeps_north_up_and_east_right() -> None:
    x, y = maps.lambert_conformal_conic(np.array([-102.0, -101.0, -102.0]), np.array([20, 20, 21]))
    assert x[0] == pytest.approx(0.0, abs=1e-12)  # the central meridian
    assert x[1] > x[0] and y[2] > y[0]


def test_douglas_peucker_drops_what_the_eye_cannot_see() -> None:
    line = np.array([[0, 0], [1, 0.01], [2, 0], [3, 5], [4, 0]], dtype=float)
    kept = maps.douglas_peucker(line, 0.5)
    np.testing.assert_array_equal(kept, line[[0, 2, 3, 4]])  # the spike stays, the wobble goes
    closed = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]], dtype=float)
    assert len(maps.douglas_peucker(closed, 0.1)) == 5  # a closed arc keeps its corners


def test_state_borders_are_arcs_between_states_or_on_the_outline() -> None:
    geometries = {key: [arcs] for key, _, arcs in GEOMETRIES}
    assert maps.state_border_arcs(geometries) == [1, 2, 3]  # arc 0 is inside state 01


def test_geometry_fits_the_width_and_shares_borders(fixture_con) -> None:
    topology = maps.read_topology(fixture_con)
    assert not isinstance(topology, Absent) and len(topology.arcs) == len(ARCS)
    geometry = maps.build_geometry(topology, width=200)
    assert set(geometry.paths) == {"01001", "01002", "02001"}
    assert geometry.width == 200 and 250 < geometry.height < 350  # 0.1° wide, 0.3° tall
    assert all(re.fullmatch(r"(M[-\d. ]+l[-\d. ]+z)+", d) for d in geometry.paths.values())
    assert geometry.state_borders.count("M") == 3


def test_section_draws_four_maps_with_hover_values(fixture_con, tmp_path: Path) -> None:
    section = municipal_section(fixture_con, tmp_path)
    assert section.absent is None
    body = section.body
    assert body.count('<svg class="map"') == 4 and body.count("<defs>") == 1
    titles = dict(re.findall(r'<use href="#m(\d{5})" class="[a-z0-9]+"><title>([^<]*)<', body))
    assert len(re.findall(r'<use href="#m\d{5}" class=', body)) == 12  # 3 per map
    hover = re.findall(r'<use href="#m01001" class="[a-z0-9]+"><title>([^<]*)<', body)
    assert hover[0] == "Alpha, Aguascalientes: very high (25.0 % of dwellings receive remittances)"
    assert hover[1] == "Alpha, Aguascalientes: -10.0 % (1,000 to 900)"
    # 2023 is the latest full year (2024 has 2 quarters): 2,500,000 / 880 = 2,841 per inhabitant
    assert hover[2].startswith("Alpha, Aguascalientes: USD 2,841 per inhabitant (rank 1;")
    # 810 / 900 - 1 = -10 %; interval 700-950: 200 / 250 = 80 % of it below zero
    assert hover[3] == (
        "Alpha, Aguascalientes: -10.0 % by 2030 (90 % interval -22.2 % to +5.6 %; 80 % of it "
        "below zero)"
    )
    gamma = re.findall(r'<use href="#m02001" class="([a-z0-9]+)"><title>([^<]*)<', body)
    assert gamma[1] == ("nd", "Gamma, Baja California: created after 2010, no 2010 population")
    assert "02001" in titles
    assert "Remittances per inhabitant, 2023" in body
    # every interval straddles zero here: each municipality hatched (and one legend swatch)
    assert body.count('fill="url(#map-hatch)" pointer-events') == 3
    # legends carry units and a source line under each map
    assert "Change of population, 2010-06-12 to 2020-03-15 (percent)" in body
    assert "US dollars" in body and body.count('class="map-source"') == 4
    # the unallocated remittances are listed with their file and line
    assert "Delta" in body and "banxico/remesas_municipio.csv line 9" in body
    assert "No identificado" in body


def test_section_without_boundaries_says_why_and_keeps_the_tables(fixture_con, tmp_path) -> None:
    fixture_con.execute("drop table staging.stg_inegi__municipal_boundaries")
    section = municipal_section(fixture_con, tmp_path)
    assert "Maps not drawn: no boundaries" in section.body
    assert "Most remittance-dependent municipalities, 2023" in section.body


@pytest.mark.parametrize(
    ("value", "index"), [(-50.0, 0), (-10.0, 1), (0.0, 3), (4.99, 3), (20.0, 6), (99.0, 6)]
)
def test_class_index(value: float, index: int) -> None:
    assert maps.class_index(value, (-10.0, -5.0, 0.0, 5.0, 10.0, 20.0)) == index
