// A point in a data entry form (a find's location): type the longitude and latitude, tap the
// map to place it, or take the device's position ("Use my location", the phone's GPS). The two
// number inputs hold the value the form sends; the map only shows and sets them.
"use strict";

(function () {
  const origin = window.location.origin;
  const round = (v) => Math.round(v * 1e6) / 1e6; // about 0.1 m: finer than any GPS fix

  document.querySelectorAll("[data-point]").forEach((el) => {
    const name = el.dataset.point;
    const lonInput = document.getElementById("f-" + name);
    const latInput = document.getElementById("f-" + name + "-lat");
    const statusEl = document.getElementById("point-status-" + name);
    const locateButton = document.querySelector('[data-locate="' + name + '"]');
    const view = JSON.parse(el.dataset.view || "null");

    const map = new maplibregl.Map({
      container: el,
      style: {
        version: 8,
        sources: {
          admin: { type: "geojson", data: origin + "/api/admin_areas?limit=10000" },
          hazards: { type: "vector", tiles: [origin + "/tiles/hazards/{z}/{x}/{y}.mvt"], maxzoom: 16 },
        },
        layers: [
          { id: "background", type: "background", paint: { "background-color": "#f3f1ea" } },
          { id: "admin-line", type: "line", source: "admin", paint: { "line-color": "#5b5b5b", "line-width": 1 } },
          { id: "hazards", type: "fill", source: "hazards", "source-layer": "hazards", paint: { "fill-color": "#D55E00", "fill-opacity": 0.25 } }, // palette.HAZARD_STATUS["open"]
        ],
      },
      center: view ? view.center : [0, 0],
      zoom: view ? view.zoom : 1,
      preserveDrawingBuffer: true,
    });
    map.addControl(new maplibregl.NavigationControl(), "top-right");
    const marker = new maplibregl.Marker({ color: "#1f5fa6" });

    function current() {
      const lon = parseFloat(lonInput.value);
      const lat = parseFloat(latInput.value);
      if (!Number.isFinite(lon) || !Number.isFinite(lat) || Math.abs(lon) > 180 || Math.abs(lat) > 90) return null;
      return [lon, lat];
    }

    function showMarker(move) {
      const p = current();
      if (!p) {
        marker.remove();
        return;
      }
      marker.setLngLat(p).addTo(map);
      if (move) map.jumpTo({ center: p, zoom: Math.max(map.getZoom(), 14) });
    }

    function place(lon, lat, how) {
      lonInput.value = round(lon);
      latInput.value = round(lat);
      // the form's own listeners (and a revision's checks) see the change as typing
      [lonInput, latInput].forEach((i) => i.dispatchEvent(new Event("input", { bubbles: true })));
      showMarker(false);
      statusEl.textContent = "Point set " + how + ": " + lonInput.value + ", " + latInput.value + ".";
    }

    map.on("click", (e) => place(e.lngLat.lng, e.lngLat.lat, "on the map"));
    [lonInput, latInput].forEach((i) => i.addEventListener("change", () => showMarker(true)));

    locateButton.addEventListener("click", async () => {
      locateButton.disabled = true;
      locateButton.classList.add("busy");
      statusEl.textContent = "Finding your position…";
      try {
        const pos = await demine.locate();
        place(pos.lon, pos.lat, "from your location (±" + Math.round(pos.accuracy) + " m)");
        map.jumpTo({ center: [pos.lon, pos.lat], zoom: Math.max(map.getZoom(), 16) });
      } catch (err) {
        statusEl.textContent = "No position: " + err.message + ".";
      } finally {
        locateButton.disabled = false;
        locateButton.classList.remove("busy");
      }
    });
    document.addEventListener("demine:form-reset", () => marker.remove());

    map.on("load", async () => {
      if (current()) showMarker(true);
      else if (!view) {
        const res = await demine.api("GET", "/web/map/hazards");
        if (res.ok && res.data.bbox) {
          const b = res.data.bbox;
          map.fitBounds([[b[0], b[1]], [b[2], b[3]]], { padding: 20, animate: false });
        }
      }
      el.dataset.ready = "true";
    });
    window.deminePoint = window.deminePoint || {};
    window.deminePoint[name] = { map: map, marker: marker };
  });
})();
