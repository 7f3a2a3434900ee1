"""Default QGIS styles stored in the GeoPackage, so its layers open styled in QGIS.

QGIS reads a ``layer_styles`` table in a GeoPackage and applies the row of the layer that has
``useAsDefault = 1`` when the layer is opened (QGIS's OGR provider matches ``f_table_schema = ''``,
``f_table_name`` and ``f_geometry_column``). The table is declared in ``gpkg_contents`` as an
attribute table, as QGIS itself declares it, so GDAL lists it without complaint.

Each style is QML (QGIS's style XML) with a categorised renderer on one code-list column:
hazards and remaining area by status, release products by method, finds by category,
accidents by kind. Colours are the Okabe–Ito palette, told apart with the common forms of
colour blindness; cleared land is blue, never the green of a closed hazard. A last
catch-all category (empty value: "all other values" in QGIS) draws a country's own codes grey.

The register's file gets the styles from migration 0006; ``demine export --format gpkg``
adds the style of the exported kind (:func:`add_to_geopackage`).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from demine.domain import palette
from demine.domain.codelists import DEFAULT_CODE_LISTS

STYLE_NAME = "demine"
OWNER = "demine"

LAYER_STYLES_DDL = """CREATE TABLE IF NOT EXISTS layer_styles (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    f_table_catalog TEXT(256), f_table_schema TEXT(256), f_table_name TEXT(256),
    f_geometry_column TEXT(256), styleName TEXT(30), styleQML TEXT, styleSLD TEXT,
    useAsDefault BOOLEAN, description TEXT, owner TEXT(30), ui TEXT(30),
    update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))"""

# Okabe & Ito, "Color Universal Design" (2008): the register's one scheme (demine.domain.palette),
# as QGIS writes colours ("r,g,b").
BLACK = palette.rgb(palette.BLACK)
ORANGE = palette.rgb(palette.ORANGE)
SKY_BLUE = palette.rgb(palette.SKY_BLUE)
BLUISH_GREEN = palette.rgb(palette.BLUISH_GREEN)
YELLOW = palette.rgb(palette.YELLOW)
BLUE = palette.rgb(palette.BLUE)
VERMILLION = palette.rgb(palette.VERMILLION)
REDDISH_PURPLE = palette.rgb(palette.REDDISH_PURPLE)
OTHER = palette.rgb(palette.GREY)  # a value the style does not know


@dataclass(frozen=True)
class Style:
    """One layer's default style: a categorised renderer on ``field``."""

    field: str
    code_list: str
    colours: dict[str, str]  # code -> "r,g,b"
    geometry: str  # polygon | point
    description: str
    fill_alpha: int = 255  # polygons: 0-255
    marker: str = "circle"
    size_mm: str = "3.2"  # points


HAZARD_STATUS = {code: palette.rgb(colour) for code, colour in palette.HAZARD_STATUS.items()}

# Register table -> style. The export kinds use the same styles (EXPORT_KINDS).
STYLES: dict[str, Style] = {
    "hazard": Style(
        "status",
        "hazard_status",
        HAZARD_STATUS,
        "polygon",
        "Hazardous areas as recorded, by status",
        fill_alpha=90,  # light: the remaining area is drawn over it
    ),
    "hazard_remaining": Style(
        "status",
        "hazard_status",
        HAZARD_STATUS,
        "polygon",
        "What remains of each hazard to release, by status",
        fill_alpha=200,
    ),
    "release_product": Style(
        "method",
        "release_method",
        {code: palette.rgb(colour) for code, colour in palette.RELEASE_METHOD.items()},
        "polygon",
        "Land release products by method",
        fill_alpha=170,
    ),
    "eo_find": Style(
        "category",
        "eo_category",
        {
            "apm": VERMILLION,
            "atm": ORANGE,
            "uxo": BLUE,
            "axo": SKY_BLUE,
            "submunition": REDDISH_PURPLE,
            "ied": BLACK,
            "other": YELLOW,
        },
        "point",
        "Explosive ordnance found, by category",
        marker="triangle",
        size_mm="2.4",  # many: smaller than the accidents' stars
    ),
    "accident": Style(
        "accident_kind",
        "accident_kind",
        {"demining": VERMILLION, "non_demining": REDDISH_PURPLE},
        "point",
        "Accidents by kind",
        marker="star",
    ),
}

# demine export kind -> the register table whose style it takes (same field names).
EXPORT_KINDS = {
    "hazard": "hazard",
    "remaining": "hazard_remaining",
    "release": "release_product",
    "find": "eo_find",
    "accident": "accident",
}

_GEOMETRY_TYPE = {"point": 0, "line": 1, "polygon": 2}  # QGIS's layerGeometryType


def _options(values: dict[str, str], indent: str) -> str:
    inner = "".join(
        f'{indent}  <Option type="QString" name={quoteattr(k)} value={quoteattr(v)}/>\n'
        for k, v in values.items()
    )
    return f'{indent}<Option type="Map">\n{inner}{indent}</Option>\n'


def _symbol(name: str, rgb: str, style: Style) -> str:
    if style.geometry == "polygon":
        kind, layer_class = "fill", "SimpleFill"
        props = {
            "color": f"{rgb},{style.fill_alpha}",
            "style": "solid",
            "outline_color": f"{rgb},255",
            "outline_style": "solid",
            "outline_width": "0.5",
            "outline_width_unit": "MM",
            "joinstyle": "bevel",
        }
    else:
        kind, layer_class = "marker", "SimpleMarker"
        props = {
            "name": style.marker,
            "color": f"{rgb},255",
            "outline_color": "35,35,35,255",
            "outline_style": "solid",
            "outline_width": "0.2",
            "outline_width_unit": "MM",
            "size": style.size_mm,
            "size_unit": "MM",
            "angle": "0",
            "scale_method": "diameter",
        }
    return (
        f'      <symbol type="{kind}" name={quoteattr(name)} alpha="1" clip_to_extent="1" force_rhr="0">\n'
        f'        <layer class="{layer_class}" enabled="1" locked="0" pass="0">\n'
        f"{_options(props, '          ')}"
        "        </layer>\n"
        "      </symbol>\n"
    )


def qml(style: Style) -> str:
    """The QML document of ``style`` (QGIS 3 style XML, symbology only)."""
    labels = dict(DEFAULT_CODE_LISTS[style.code_list])
    entries = [(code, labels.get(code, code), rgb) for code, rgb in style.colours.items()]
    entries.append(("", "Any other value", OTHER))  # empty value: QGIS's "all other values"
    categories = "".join(
        f'      <category render="true" symbol="{i}" value={quoteattr(code)} '
        f'label={quoteattr(label)} type="string"/>\n'
        for i, (code, label, _rgb) in enumerate(entries)
    )
    symbols = "".join(_symbol(str(i), rgb, style) for i, (_code, _label, rgb) in enumerate(entries))
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        '<qgis version="3.22.16-Białowieża" styleCategories="Symbology">\n'
        f'  <renderer-v2 type="categorizedSymbol" attr={quoteattr(style.field)} forceraster="0" '
        'symbollevels="0" enableorderby="0" referencescale="-1">\n'
        f"    <categories>\n{categories}    </categories>\n"
        f"    <symbols>\n{symbols}    </symbols>\n"
        "    <rotation/>\n"
        "    <sizescale/>\n"
        "  </renderer-v2>\n"
        f"  <layerGeometryType>{_GEOMETRY_TYPE[style.geometry]}</layerGeometryType>\n"
        "</qgis>\n"
    )


def install(execute: Any, layers: dict[str, str], geometry_column: str = "geom") -> None:
    """Create ``layer_styles`` and add demine's default style of each layer that has none.

    ``layers`` maps a layer name in the file to a key of :data:`STYLES`. ``execute`` runs one
    SQL statement (a migration's or a sqlite3 cursor's). A style the user saved in QGIS is
    kept: demine's row is added only where the layer has no row named ``demine``, and is the
    default only where the layer has no default yet.
    """
    execute(LAYER_STYLES_DDL)
    execute(
        "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description) "
        "VALUES ('layer_styles', 'attributes', 'layer_styles', 'QGIS layer styles')"
    )
    for layer, key in layers.items():
        style = STYLES[key]
        where = (
            f"f_table_schema = '' AND f_table_name = {_quote(layer)} "
            f"AND f_geometry_column = {_quote(geometry_column)}"
        )
        execute(
            "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, "
            "styleName, styleQML, styleSLD, useAsDefault, description, owner, ui) "
            f"SELECT '', '', {_quote(layer)}, {_quote(geometry_column)}, {_quote(STYLE_NAME)}, "
            f"{_quote(qml(style))}, '', "
            f"NOT EXISTS (SELECT 1 FROM layer_styles WHERE {where} AND useAsDefault), "
            f"{_quote(style.description)}, {_quote(OWNER)}, NULL "
            f"WHERE NOT EXISTS (SELECT 1 FROM layer_styles WHERE {where} "
            f"AND styleName = {_quote(STYLE_NAME)})"
        )


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def add_to_geopackage(path: str | Path, layer: str, kind: str) -> bool:
    """Give an exported GeoPackage's ``layer`` the style of export ``kind``; False if it has none."""
    key = EXPORT_KINDS.get(kind)
    if key is None:
        return False
    with sqlite3.connect(path) as conn:
        found = conn.execute(
            "SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?", (layer,)
        ).fetchone()
        if found is None:
            return False
        install(conn.execute, {layer: key}, found[0])
    conn.close()
    return True
