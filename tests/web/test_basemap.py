"""A configured base map (``DEMINE_BASEMAP_URL``): the map draws it under the register.

A raster XYZ tile server, and a PMTiles archive read by HTTP range requests (the way a field
office serves one file from any static web server), each with its licence credit on the map.
"""

from __future__ import annotations

import contextlib
import re
import struct
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer

from serve_support import start_server, stop_server


def solid_png(rgb: tuple[int, int, int], size: int = 256) -> bytes:
    """A one-colour PNG, written by hand (no imaging library needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * size
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * size))
        + chunk(b"IEND", b"")
    )


def _corner_pixel(page) -> list[int]:
    return page.evaluate(
        """() => {
            const gl = window.demineMap.map.getCanvas().getContext('webgl2')
                || window.demineMap.map.getCanvas().getContext('webgl');
            const out = new Uint8Array(4);
            gl.readPixels(2, 2, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, out);
            return Array.from(out);
        }"""
    )


@contextlib.contextmanager
def _http(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A throwaway HTTP server on loopback (the base map's host); yields its base URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()


@contextlib.contextmanager
def _map_with_basemap(open_as, db, wait_for_map_idle, env: dict[str, str]) -> Iterator:
    """``demine serve`` with ``env`` (the base map settings); yields the viewer's drawn map page."""
    process, url = start_server(db, env=env)
    try:
        page = open_as("viewer", url=url)
        page.wait_for_function("document.getElementById('map').dataset.rendered > 0", timeout=60_000)
        wait_for_map_idle(page)
        assert page.evaluate("window.demineMap.map.getLayer('basemap').type") == "raster"
        # the register's layers are still drawn on top of the base map
        assert page.evaluate("window.demineMap.renderedHazardCount()") > 0
        yield page
    finally:
        stop_server(process)


def test_the_map_draws_a_configured_raster_base_map(open_as, server, wait_for_map_idle, screenshot):
    tile = solid_png((170, 211, 223))
    requested: list[str] = []

    class Tiles(BaseHTTPRequestHandler):
        def do_GET(self):
            requested.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Access-Control-Allow-Origin", "*")  # as public tile servers do
            self.send_header("Content-Length", str(len(tile)))
            self.end_headers()
            self.wfile.write(tile)

        def log_message(self, *args):
            pass

    with (
        _http(Tiles) as base,
        _map_with_basemap(
            open_as, server.db, wait_for_map_idle, {"DEMINE_BASEMAP_URL": base + "/{z}/{x}/{y}.png"}
        ) as page,
    ):
        assert requested and all(re.fullmatch(r"/\d+/\d+/\d+\.png", p) for p in requested)
        assert _corner_pixel(page)[:3] == [170, 211, 223]  # a corner of the map shows the base map's colour
        screenshot(page, "map-basemap")


def test_the_map_reads_a_pmtiles_archive_by_range_requests(
    open_as, server, wait_for_map_idle, screenshot, tmp_path
):
    archive = tmp_path / "basemap.pmtiles"
    with archive.open("wb") as f:
        writer = Writer(f)
        writer.write_tile(zxy_to_tileid(0, 0, 0), solid_png((205, 180, 140)))
        writer.finalize(
            {"tile_type": TileType.PNG, "tile_compression": Compression.NONE, "min_zoom": 0, "max_zoom": 0},
            {"attribution": "test archive"},
        )
    data = archive.read_bytes()
    ranges: list[str] = []

    class Archive(BaseHTTPRequestHandler):
        def _cors(self):
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Access-Control-Allow-Headers", "Range")
            self.send_header("Access-Control-Expose-Headers", "Content-Range, Content-Length, ETag")

        def do_OPTIONS(self):
            self.send_response(204)
            self._cors()
            self.end_headers()

        def do_GET(self):
            match = re.fullmatch(r"bytes=(\d+)-(\d+)", self.headers.get("Range", ""))
            if self.path != "/basemap.pmtiles" or match is None:
                self.send_response(416 if match is None else 404)
                self._cors()
                self.end_headers()
                return
            start, end = int(match[1]), min(int(match[2]), len(data) - 1)
            ranges.append(f"{start}-{end}")
            body = data[start : end + 1]
            self.send_response(206)
            self._cors()
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", '"basemap-1"')
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    credit_line = "© Test Mapping Agency"
    with (
        _http(Archive) as base,
        _map_with_basemap(
            open_as,
            server.db,
            wait_for_map_idle,
            {"DEMINE_BASEMAP_URL": base + "/basemap.pmtiles", "DEMINE_BASEMAP_ATTRIBUTION": credit_line},
        ) as page,
    ):
        # the header and root directory, then the tile: all read as byte ranges of the one file
        assert ranges and ranges[0].startswith("0-"), ranges
        # an archive of zoom 0 only is over-zoomed: its colour fills the corner of the view
        assert _corner_pixel(page)[:3] == [205, 180, 140]
        credit = page.locator(".maplibregl-ctrl-attrib")
        assert "Test Mapping Agency" in credit.inner_text(timeout=10_000) or "Test Mapping Agency" in (
            credit.inner_html()
        )
        screenshot(page, "map-pmtiles")
