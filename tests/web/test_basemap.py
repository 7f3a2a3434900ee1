"""A configured base map (``DEMINE_BASEMAP_URL``): the map draws its raster tiles under the register."""

from __future__ import annotations

import re
import struct
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .conftest import start_server, stop_server


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

    tiles = ThreadingHTTPServer(("127.0.0.1", 0), Tiles)
    threading.Thread(target=tiles.serve_forever, daemon=True).start()
    template = f"http://127.0.0.1:{tiles.server_address[1]}/{{z}}/{{x}}/{{y}}.png"
    process, url = start_server(server.db, DEMINE_BASEMAP_URL=template)
    try:
        page = open_as("viewer", url=url)
        page.wait_for_function("document.getElementById('map').dataset.rendered > 0", timeout=60_000)
        wait_for_map_idle(page)
        assert page.evaluate("window.demineMap.map.getLayer('basemap').type") == "raster"
        assert requested and all(re.fullmatch(r"/\d+/\d+/\d+\.png", p) for p in requested)
        # the register's layers are still drawn on top of the base map
        assert page.evaluate("window.demineMap.renderedHazardCount()") > 0
        pixel = page.evaluate(
            """() => {
                const gl = window.demineMap.map.getCanvas().getContext('webgl2')
                    || window.demineMap.map.getCanvas().getContext('webgl');
                const out = new Uint8Array(4);
                gl.readPixels(2, 2, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, out);
                return Array.from(out);
            }"""
        )
        assert pixel[:3] == [170, 211, 223]  # a corner of the map shows the base map's colour
        screenshot(page, "map-basemap")
    finally:
        stop_server(process)
        tiles.shutdown()
