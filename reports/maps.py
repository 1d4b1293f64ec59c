"""Municipal choropleths as inline SVG: no tile server, no CDN, no script; they open from disk.

The boundaries come from the warehouse as a TopoJSON topology (``stg_inegi__municipal_boundaries``:
geometries that reference shared arcs). Each arc is projected (INEGI's Lambert conformal conic)
and simplified once (Douglas–Peucker, a fraction of a pixel at the drawn size), so neighbours
still meet exactly; each municipality becomes one SVG path defined once in a hidden ``<defs>``
block that every map reuses (``<use>``), with its own fill and a ``<title>`` (the hover text:
name, state and value). An arc between two states, or on the outline of the country, is a state
border, drawn over every map.

Everything here is pure: reading the warehouse is :func:`read_topology`; the rest turns numbers
into text.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from migsys.reports.queries import Absent, find_relation

BOUNDARIES_MODEL = "stg_inegi__municipal_boundaries"
MAP_WIDTH = 900  # px; the SVG scales to the page
SIMPLIFY_TOLERANCE = 0.5  # px at MAP_WIDTH: finer than the eye can tell, ~1/3 of the points
# INEGI's Lambert conformal conic for national maps (Marco Geoestadístico): standard parallels
# 17.5° and 29.5° N, origin 12° N, 102° W.
LCC_PARALLELS = (17.5, 29.5)
LCC_ORIGIN = (12.0, -102.0)
NO_DATA_COLOR = "#d9d9d9"
HATCH_ID = "map-hatch"
STATE_BORDERS_ID = "map-state-borders"


@dataclass(frozen=True)
class Topology:
    """Arcs in longitude/latitude and, per municipality, its polygons as rings of arc refs."""

    arcs: list[np.ndarray]  # [n_points, 2] lon, lat
    geometries: dict[str, list[list[list[int]]]]  # cve_mun -> polygons -> rings -> arc refs


@dataclass(frozen=True)
class MapGeometry:
    """What every map draws: a path per municipality, the state borders, the canvas size."""

    paths: dict[str, str]  # cve_mun -> SVG path data
    state_borders: str
    width: float
    height: float


@dataclass(frozen=True)
class MapClass:
    """One legend entry: the fill and what it means."""

    color: str
    label: str


@dataclass(frozen=True)
class Choropleth:
    """One map: classes, each municipality's class and hover text, what to hatch, the legend."""

    map_id: str
    title: str
    legend_title: str  # with units
    classes: tuple[MapClass, ...]
    class_of: Mapping[str, int]  # cve_mun -> index in classes (absent: no data)
    hover: Mapping[str, str]  # cve_mun -> the <title> text
    source: str  # the source line under the map
    no_data_label: str = "no data"
    hatched: frozenset[str] = field(default_factory=frozenset)
    hatch_label: str = ""
    note: str = ""


# --------------------------------------------------------------------------- geometry


def read_topology(con) -> Topology | Absent:
    """The boundaries of the warehouse (``stg_inegi__municipal_boundaries``), decoded."""
    relation = find_relation(con, BOUNDARIES_MODEL)
    if relation is None:
        return Absent(f"no boundaries: {BOUNDARIES_MODEL} is not in this warehouse")
    rows = con.execute(
        f"select element, element_index, cve_mun, geometry_type, arc_references, arc_positions, "
        f"scale_x, scale_y, translate_x, translate_y from {relation} "
        "order by element, element_index"
    ).fetchall()
    if not rows:
        return Absent("no boundaries: inegi/municipios_2020.topojson was not loaded")
    arcs: list[np.ndarray] = []
    geometries: dict[str, list[list[list[int]]]] = {}
    for element, index, key, kind, references, positions, sx, sy, tx, ty in rows:
        if element == "arc":
            if index != len(arcs):
                raise ValueError(f"{BOUNDARIES_MODEL}: arc {len(arcs)} is missing")
            arcs.append(decode_arc(json.loads(positions), (sx, sy, tx, ty)))
        else:
            rings = json.loads(references)
            geometries[key] = [rings] if kind == "Polygon" else rings
    return Topology(arcs, geometries)


def decode_arc(positions: list[list[int]], transform: tuple[float, float, float, float]):
    """Quantized, delta-encoded TopoJSON positions -> longitude/latitude."""
    scale_x, scale_y, translate_x, translate_y = transform
    cumulative = np.cumsum(np.asarray(positions, dtype=float), axis=0)
    return np.column_stack(
        (cumulative[:, 0] * scale_x + translate_x, cumulative[:, 1] * scale_y + translate_y)
    )


def lambert_conformal_conic(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project degrees to the unit sphere's Lambert conformal conic (INEGI's parameters)."""
    phi1, phi2 = np.radians(LCC_PARALLELS)
    phi0, lambda0 = np.radians(LCC_ORIGIN[0]), LCC_ORIGIN[1]
    n = np.log(np.cos(phi1) / np.cos(phi2)) / np.log(
        np.tan(np.pi / 4 + phi2 / 2) / np.tan(np.pi / 4 + phi1 / 2)
    )
    big_f = np.cos(phi1) * np.tan(np.pi / 4 + phi1 / 2) ** n / n
    rho = big_f / np.tan(np.pi / 4 + np.radians(lat) / 2) ** n
    rho0 = big_f / np.tan(np.pi / 4 + phi0 / 2) ** n
    theta = n * np.radians(np.asarray(lon) - lambda0)
    return rho * np.sin(theta), rho0 - rho * np.cos(theta)


def douglas_peucker(points: np.ndarray, tolerance: float) -> np.ndarray:
    """The points of a line that keep it within ``tolerance``; both ends always kept."""
    n = len(points)
    if n <= 2 or tolerance <= 0:
        return points
    keep = np.zeros(n, dtype=bool)
    keep[[0, -1]] = True
    stack = [(0, n - 1)]
    while stack:
        start, end = stack.pop()
        if end <= start + 1:
            continue
        chord = points[end] - points[start]
        offsets = points[start + 1 : end] - points[start]
        length = float(np.hypot(*chord))
        if length > 0:
            distance = np.abs(chord[0] * offsets[:, 1] - chord[1] * offsets[:, 0]) / length
        else:  # a closed arc: distance to its start
            distance = np.hypot(offsets[:, 0], offsets[:, 1])
        farthest = int(np.argmax(distance))
        if distance[farthest] > tolerance:
            middle = start + 1 + farthest
            keep[middle] = True
            stack += [(start, middle), (middle, end)]
    return points[keep]


def build_geometry(
    topology: Topology, width: float = MAP_WIDTH, tolerance: float = SIMPLIFY_TOLERANCE
) -> MapGeometry:
    """Project, fit to ``width`` pixels (north up), simplify each arc once, make the paths."""
    lon = np.concatenate([arc[:, 0] for arc in topology.arcs])
    lat = np.concatenate([arc[:, 1] for arc in topology.arcs])
    x, y = lambert_conformal_conic(lon, lat)
    scale = width / float(x.max() - x.min())
    left, top = float(x.min()), float(y.max())
    simplified = []
    for arc in topology.arcs:
        ax, ay = lambert_conformal_conic(arc[:, 0], arc[:, 1])
        pixels = np.column_stack(((ax - left) * scale, (top - ay) * scale))
        simplified.append(douglas_peucker(pixels, tolerance))
    paths = {
        key: "".join(
            _ring_path(_ring(simplified, ring)) for polygon in polygons for ring in polygon
        )
        for key, polygons in topology.geometries.items()
    }
    borders = "".join(
        _line_path(simplified[index]) for index in state_border_arcs(topology.geometries)
    )
    height = float((y.max() - y.min()) * scale)
    return MapGeometry(paths, borders, float(width), height)


def state_border_arcs(geometries: Mapping[str, list[list[list[int]]]]) -> list[int]:
    """Arcs on a state border: used by municipalities of two states, or by one municipality only
    (the outline of the country: coasts and international borders)."""
    states: dict[int, list[str]] = {}
    for key, polygons in geometries.items():
        for polygon in polygons:
            for ring in polygon:
                for reference in ring:
                    states.setdefault(~reference if reference < 0 else reference, []).append(
                        key[:2]
                    )
    return sorted(
        index for index, users in states.items() if len(users) == 1 or len(set(users)) > 1
    )


def _ring(arcs: list[np.ndarray], references: list[int]) -> np.ndarray:
    """A ring's points: its arcs in order (~i reversed), each junction point once."""
    parts = []
    for reference in references:
        points = arcs[reference] if reference >= 0 else arcs[~reference][::-1]
        parts.append(points if not parts else points[1:])
    return np.vstack(parts)


def _relative(points: np.ndarray) -> str:
    """'M x y' then relative moves, to 0.1 px: the shortest text for a dense outline."""
    rounded = np.round(points * 10).astype(np.int64)
    steps = np.diff(rounded, axis=0)
    steps = steps[np.any(steps != 0, axis=1)]
    start = f"M{_tenths(rounded[0, 0])} {_tenths(rounded[0, 1])}"
    if not len(steps):
        return start
    moves = " ".join(f"{_tenths(dx)} {_tenths(dy)}" for dx, dy in steps)
    return f"{start}l{moves}"


def _tenths(value: int) -> str:
    sign = "-" if value < 0 else ""
    whole, tenth = divmod(abs(int(value)), 10)
    return f"{sign}{whole}.{tenth}" if tenth else f"{sign}{whole}"


def _ring_path(points: np.ndarray) -> str:
    return _relative(points) + "z"


def _line_path(points: np.ndarray) -> str:
    return _relative(points)


# --------------------------------------------------------------------------- SVG


def render_defs(geometry: MapGeometry) -> str:
    """The hidden SVG every map reuses: one path per municipality, the borders, the hatch."""
    paths = "".join(f'<path id="m{key}" d="{d}"/>' for key, d in sorted(geometry.paths.items()))
    return (
        '<svg width="0" height="0" style="position:absolute" aria-hidden="true"><defs>'
        f'<pattern id="{HATCH_ID}" width="4" height="4" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="1.6" height="4" fill="#222" '
        'fill-opacity="0.55"/></pattern>'
        f'<path id="{STATE_BORDERS_ID}" d="{geometry.state_borders}"/>'
        f"{paths}</defs></svg>"
    )


def render_map(spec: Choropleth, geometry: MapGeometry) -> str:
    """A ``<figure>``: the SVG (one ``<use>`` per municipality, with its hover ``<title>``), the
    state borders, the legend with units and the source line. Fills are classes ``c0``.. (and
    ``nd``, no data) styled for this map only, to keep ~2,500 elements per map short."""
    rules = "".join(
        f"#{spec.map_id} .c{index}{{fill:{entry.color}}}"
        for index, entry in enumerate(spec.classes)
    )
    rules += f"#{spec.map_id} .nd{{fill:{NO_DATA_COLOR}}}"
    uses = []
    for key in sorted(geometry.paths):
        index = spec.class_of.get(key)
        css = "nd" if index is None else f"c{index}"
        text = spec.hover.get(key)
        title = f"<title>{html.escape(text)}</title>" if text else ""
        uses.append(f'<use href="#m{key}" class="{css}">{title}</use>')
    hatches = "".join(
        f'<use href="#m{key}" fill="url(#{HATCH_ID})" pointer-events="none"/>'
        for key in sorted(spec.hatched & set(geometry.paths))
    )
    svg = (
        f'<svg class="map" id="{spec.map_id}" viewBox="0 0 {geometry.width:.0f} '
        f'{geometry.height:.0f}" role="img" aria-labelledby="{spec.map_id}-title">'
        f'<title id="{spec.map_id}-title">{html.escape(spec.title)}</title>'
        f"<style>{rules}</style>"
        f'<g class="municipalities" stroke="#ffffff" stroke-width="0.15">{"".join(uses)}</g>'
        f"<g>{hatches}</g>"
        f'<use href="#{STATE_BORDERS_ID}" fill="none" stroke="#333" stroke-width="0.6" '
        'pointer-events="none"/></svg>'
    )
    return (
        f'<figure class="map-figure"><figcaption>{html.escape(spec.title)}</figcaption>'
        f"{svg}{render_legend(spec)}"
        f'<p class="map-source">{html.escape(spec.source)}</p>'
        + (f'<p class="note">{html.escape(spec.note)}</p>' if spec.note else "")
        + "</figure>"
    )


def render_legend(spec: Choropleth) -> str:
    entries = [(entry.color, entry.label) for entry in spec.classes]
    entries.append((NO_DATA_COLOR, spec.no_data_label))
    items = "".join(
        f'<li><span class="swatch" style="background:{color}"></span>{html.escape(label)}</li>'
        for color, label in entries
    )
    if spec.hatched:
        items += (
            '<li><svg class="swatch" viewBox="0 0 12 12" aria-hidden="true"><rect width="12" '
            f'height="12" fill="#fff"/><rect width="12" height="12" fill="url(#{HATCH_ID})"/>'
            f"</svg>{html.escape(spec.hatch_label)}</li>"
        )
    return f'<div class="map-legend"><p>{html.escape(spec.legend_title)}</p><ul>{items}</ul></div>'


MAP_STYLE = """
.map-figure { margin: 1rem 0 2rem; }
.map-figure figcaption { font-weight: 600; margin-bottom: 0.3rem; }
svg.map { width: 100%; height: auto; display: block; background: #f4f8fb; }
svg.map g.municipalities use:hover { stroke: #000; stroke-width: 1; }
.map-legend p { margin: 0.3rem 0 0.1rem; font-size: 0.85rem; }
.map-legend ul { list-style: none; padding: 0; margin: 0; display: flex; flex-wrap: wrap;
                 gap: 0.2rem 1rem; font-size: 0.8rem; }
.map-legend .swatch { display: inline-block; width: 0.9rem; height: 0.9rem; margin-right: 0.3rem;
                      vertical-align: -0.15rem; border: 1px solid #999; }
.map-source { color: #555; font-size: 0.8rem; margin: 0.2rem 0; }
"""


# --------------------------------------------------------------------------- classes


def class_index(value: float, upper_bounds: tuple[float, ...]) -> int:
    """The class of ``value`` for classes bounded above by ``upper_bounds`` (last: open)."""
    for index, bound in enumerate(upper_bounds):
        if value < bound:
            return index
    return len(upper_bounds)


def bounded_labels(bounds: tuple[float, ...], unit: str, fmt: str = "{:,.0f}") -> list[str]:
    """'below 100 USD', '100 to 250 USD', ..., '2,000 USD or more'."""
    labels = [f"below {fmt.format(bounds[0])}{unit}"]
    labels += [
        f"{fmt.format(low)} to {fmt.format(high)}{unit}"
        for low, high in zip(bounds, bounds[1:], strict=False)
    ]
    labels.append(f"{fmt.format(bounds[-1])}{unit} or more")
    return labels
