"""INEGI municipal boundaries as TopoJSON (inegi/municipios_2020.topojson, from mxmaps).

The file is one line of JSON: a ``Topology`` with one object ``municipios`` (a
``GeometryCollection`` of ``Polygon``/``MultiPolygon`` geometries, ``properties.id`` the 5-digit
municipality key as a string), the shared ``arcs`` (quantized, delta-encoded integer positions)
and the ``transform`` (scale, translate) that turns them into longitude and latitude.

The parser keeps the topology as published: one row per geometry (its key, type and arc
references as JSON text) and one row per arc (its positions as JSON text), each with the
transform. Shared arcs stay shared, so borders can be simplified once and still meet
(``reports.maps``). A geometry has no line of its own (the whole file is line 1), so every broken
rule is file-level and the message names the geometry by its position and key.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from migsys.warehouse.parsers.common import ParseResult, Reject, decode_published, read_bytes

OBJECT_NAME = "municipios"
GEOMETRY_TYPES = frozenset({"Polygon", "MultiPolygon"})
KEY_RE = re.compile(r"^(\d{2})\d{3}$")


class _Broken(ValueError):
    """The file breaks a rule of the layout; the message says where."""


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _transform(topology: dict) -> tuple[float, float, float, float]:
    transform = topology.get("transform")
    if not isinstance(transform, dict):
        raise _Broken("no 'transform' (the arcs are quantized: scale and translate are needed)")
    scale, translate = transform.get("scale"), transform.get("translate")
    numbers = [*(scale or []), *(translate or [])]
    if len(numbers) != 4 or not all(isinstance(n, int | float) for n in numbers):
        raise _Broken(f"transform is {transform!r}, expected two numbers for scale and translate")
    return scale[0], scale[1], translate[0], translate[1]


def _arcs(topology: dict) -> list:
    arcs = topology.get("arcs")
    if not isinstance(arcs, list) or not arcs:
        raise _Broken("no 'arcs' array")
    for index, arc in enumerate(arcs):
        if (
            not isinstance(arc, list)
            or len(arc) < 2
            or not all(
                isinstance(p, list) and len(p) == 2 and all(isinstance(c, int) for c in p)
                for p in arc
            )
        ):
            raise _Broken(f"arc {index} is not a list of at least two [x, y] integer positions")
    return arcs


def _rings(geometry: dict) -> list[list[int]]:
    arcs = geometry.get("arcs")
    polygons = [arcs] if geometry.get("type") == "Polygon" else arcs
    if not isinstance(polygons, list) or not polygons:
        return []
    rings = []
    for polygon in polygons:
        if not isinstance(polygon, list) or not polygon:
            return []
        rings.extend(polygon)
    return rings


def _geometries(topology: dict, n_arcs: int) -> list[dict]:
    objects = topology.get("objects")
    collection = objects.get(OBJECT_NAME) if isinstance(objects, dict) else None
    if not isinstance(collection, dict) or collection.get("type") != "GeometryCollection":
        found = sorted(objects) if isinstance(objects, dict) else objects
        raise _Broken(f"no GeometryCollection 'objects.{OBJECT_NAME}' (objects: {found})")
    geometries = collection.get("geometries")
    if not isinstance(geometries, list) or not geometries:
        raise _Broken(f"objects.{OBJECT_NAME} has no geometries")
    seen: dict[str, int] = {}
    for position, geometry in enumerate(geometries, start=1):
        where = f"geometry {position} of objects.{OBJECT_NAME}"
        if not isinstance(geometry, dict):
            raise _Broken(f"{where} is not an object")
        properties = geometry.get("properties")
        key = properties.get("id") if isinstance(properties, dict) else None
        match = KEY_RE.match(key) if isinstance(key, str) else None
        if not match or not 1 <= int(match.group(1)) <= 32:
            raise _Broken(
                f"{where}: properties.id is {key!r}, expected a 5-digit municipality key as a "
                "string ('01001'; state 01..32)"
            )
        where = f"{where} (properties.id {key!r})"
        if key in seen:
            raise _Broken(f"{where}: the key is already geometry {seen[key]}")
        seen[key] = position
        if geometry.get("type") not in GEOMETRY_TYPES:
            raise _Broken(
                f"{where}: type is {geometry.get('type')!r}, expected Polygon or MultiPolygon"
            )
        rings = _rings(geometry)
        if not rings or not all(isinstance(ring, list) and ring for ring in rings):
            raise _Broken(f"{where}: arcs are not a list of rings of arc indices")
        for ring in rings:
            for reference in ring:
                index = ~reference if isinstance(reference, int) and reference < 0 else reference
                if not isinstance(index, int) or index >= n_arcs:
                    raise _Broken(
                        f"{where}: arc reference {reference!r} is not one of the {n_arcs} arcs"
                    )
    return geometries


def parse_boundaries(path_or_bytes: Path | str | bytes, file_name: str) -> ParseResult:
    """inegi/municipios_2020.topojson: one row per geometry and per arc (module doc)."""
    data = read_bytes(path_or_bytes)
    text = decode_published(data, "utf-8")
    if not isinstance(text, str):
        return ParseResult(rejects=[text])
    try:
        topology = json.loads(text)
    except json.JSONDecodeError as error:
        rule = "file.truncated" if error.pos >= len(text.rstrip()) else "file.format"
        return ParseResult(
            rejects=[
                Reject(
                    rule,
                    f"not valid JSON at character {error.pos:,}: {error.msg}"
                    + (" (file cut during download?)" if rule == "file.truncated" else ""),
                    line_number=error.lineno,
                )
            ]
        )
    try:
        if not isinstance(topology, dict) or topology.get("type") != "Topology":
            raise _Broken("not a TopoJSON Topology (top-level 'type' must be 'Topology')")
        scale_x, scale_y, translate_x, translate_y = _transform(topology)
        arcs = _arcs(topology)
        geometries = _geometries(topology, len(arcs))
    except _Broken as error:
        return ParseResult(rejects=[Reject("file.format", str(error), line_number=1)])
    transform = {
        "scale_x": scale_x,
        "scale_y": scale_y,
        "translate_x": translate_x,
        "translate_y": translate_y,
        "line_number": 1,  # the whole file is one line
    }
    rows = [
        {
            "element": "geometry",
            "element_index": index,
            "cve_mun": geometry["properties"]["id"],
            "geometry_type": geometry["type"],
            "arcs": _compact(geometry["arcs"]),
            "positions": None,
            **transform,
        }
        for index, geometry in enumerate(geometries)
    ]
    rows += [
        {
            "element": "arc",
            "element_index": index,
            "cve_mun": None,
            "geometry_type": None,
            "arcs": None,
            "positions": _compact(arc),
            **transform,
        }
        for index, arc in enumerate(arcs)
    ]
    return ParseResult(rows=rows, rows_read=len(rows))


def parse(path_or_bytes: Path | str | bytes, file_name: str) -> ParseResult:
    return parse_boundaries(path_or_bytes, file_name)
