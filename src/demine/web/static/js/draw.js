// A small polygon drawing tool on MapLibre: click to add corners, finish, undo, clear; or load
// a GeoJSON file. The polygon is written as GeoJSON into the form's geometry field (which can
// also be typed or pasted, for keyboard users), and whatever that field holds is shown.
"use strict";

(function () {
  const el = document.getElementById("draw-map");
  if (!el) return;
  const target = document.getElementById(el.dataset.target);
  const statusEl = document.getElementById("draw-status");
  const view = JSON.parse(el.dataset.view || "null");
  const origin = window.location.origin;
  let points = [];
  let drawing = false;

  const map = new maplibregl.Map({
    container: el,
    style: {
      version: 8,
      sources: {
        admin: { type: "geojson", data: origin + "/api/admin_areas?limit=10000" },
        hazards: { type: "vector", tiles: [origin + "/tiles/hazards/{z}/{x}/{y}.mvt"], maxzoom: 16 },
        sketch: { type: "geojson", data: { type: "FeatureCollection", features: [] } },
      },
      layers: [
        { id: "background", type: "background", paint: { "background-color": "#f3f1ea" } },
        { id: "admin-line", type: "line", source: "admin", paint: { "line-color": "#5b5b5b", "line-width": 1 } },
        { id: "hazards", type: "fill", source: "hazards", "source-layer": "hazards", paint: { "fill-color": "#D55E00", "fill-opacity": 0.25 } }, // palette.HAZARD_STATUS["open"]
        { id: "sketch-fill", type: "fill", source: "sketch", filter: ["==", ["geometry-type"], "Polygon"], paint: { "fill-color": "#1f5fa6", "fill-opacity": 0.35 } },
        { id: "sketch-line", type: "line", source: "sketch", paint: { "line-color": "#1f5fa6", "line-width": 2 } },
        { id: "sketch-points", type: "circle", source: "sketch", filter: ["==", ["geometry-type"], "Point"], paint: { "circle-radius": 5, "circle-color": "#fff", "circle-stroke-color": "#1f5fa6", "circle-stroke-width": 2 } },
      ],
    },
    center: view ? view.center : [0, 0],
    zoom: view ? view.zoom : 1,
    doubleClickZoom: false,
    preserveDrawingBuffer: true,
  });
  map.addControl(new maplibregl.NavigationControl(), "top-right");

  function sketch(features) {
    const source = map.getSource("sketch");
    if (source) source.setData({ type: "FeatureCollection", features: features });
  }

  function showPoints() {
    const features = points.map((p) => ({ type: "Feature", geometry: { type: "Point", coordinates: p }, properties: {} }));
    if (points.length > 1) features.push({ type: "Feature", geometry: { type: "LineString", coordinates: points }, properties: {} });
    sketch(features);
  }

  function round(p) {
    return [Math.round(p[0] * 1e7) / 1e7, Math.round(p[1] * 1e7) / 1e7];
  }

  function showTarget() {
    // Whatever the geometry field holds (drawn, uploaded or typed) is drawn on the map.
    const text = target.value.trim();
    if (!text || text[0] !== "{") return sketch([]);
    try {
      let obj = JSON.parse(text);
      if (obj.type === "FeatureCollection") obj = obj.features[0] && obj.features[0].geometry;
      else if (obj.type === "Feature") obj = obj.geometry;
      if (!obj || !obj.coordinates) return;
      sketch([{ type: "Feature", geometry: obj, properties: {} }]);
      const coords = JSON.stringify(obj.coordinates).match(/-?\d+(\.\d+)?(e-?\d+)?,-?\d+(\.\d+)?(e-?\d+)?/g) || [];
      const xy = coords.map((c) => c.split(",").map(Number));
      if (xy.length && !drawing) {
        const xs = xy.map((p) => p[0]);
        const ys = xy.map((p) => p[1]);
        map.fitBounds([[Math.min(...xs), Math.min(...ys)], [Math.max(...xs), Math.max(...ys)]], { padding: 60, animate: false, maxZoom: 16 });
      }
    } catch (err) {
      /* not JSON yet: the API will say what is wrong */
    }
  }

  function setStatus(text) {
    statusEl.textContent = text;
  }

  document.getElementById("draw-start").addEventListener("click", () => {
    drawing = true;
    points = [];
    showPoints();
    map.getCanvas().style.cursor = "crosshair";
    setStatus("Drawing: click or tap the map at each corner, then press “Finish polygon” (or double-click).");
  });
  document.getElementById("draw-undo").addEventListener("click", () => {
    points.pop();
    showPoints();
    setStatus(points.length + " corner(s).");
  });
  document.getElementById("draw-clear").addEventListener("click", () => {
    points = [];
    drawing = false;
    target.value = "";
    sketch([]);
    map.getCanvas().style.cursor = "";
    setStatus("Cleared.");
  });
  function finish() {
    if (points.length < 3) {
      setStatus("A polygon needs at least three corners (" + points.length + " so far).");
      return;
    }
    const ring = points.concat([points[0]]);
    target.value = JSON.stringify({ type: "Polygon", coordinates: [ring] });
    drawing = false;
    points = [];
    map.getCanvas().style.cursor = "";
    showTarget();
    setStatus("Polygon of " + (ring.length - 1) + " corners set.");
  }
  document.getElementById("draw-finish").addEventListener("click", finish);

  // Walking the edge with a phone: while drawing, each press adds the GPS position as a corner;
  // otherwise it brings the map to where the user stands.
  const locateButton = document.getElementById("draw-locate");
  locateButton.addEventListener("click", async () => {
    locateButton.disabled = true;
    locateButton.classList.add("busy");
    setStatus("Finding your position…");
    try {
      const pos = await demine.locate();
      map.jumpTo({ center: [pos.lon, pos.lat], zoom: Math.max(map.getZoom(), 16) });
      const accuracy = " (±" + Math.round(pos.accuracy) + " m)";
      if (drawing) {
        points.push(round([pos.lon, pos.lat]));
        showPoints();
        setStatus(points.length + " corner(s), the last from your location" + accuracy + ".");
      } else {
        setStatus("The map shows your location" + accuracy + ". “Start drawing” to add corners.");
      }
    } catch (err) {
      setStatus("No position: " + err.message + ".");
    } finally {
      locateButton.disabled = false;
      locateButton.classList.remove("busy");
    }
  });

  map.on("click", (e) => {
    if (!drawing) return;
    points.push(round([e.lngLat.lng, e.lngLat.lat]));
    showPoints();
    setStatus(points.length + " corner(s); “Finish polygon” when done.");
  });
  map.on("dblclick", (e) => {
    if (drawing) {
      e.preventDefault();
      finish();
    }
  });

  target.addEventListener("input", showTarget);
  document.querySelectorAll("[data-geometry-file]").forEach((input) =>
    input.addEventListener("change", async () => {
      const file = input.files[0];
      if (!file) return;
      const text = await file.text();
      try {
        const obj = JSON.parse(text);
        let geometry = obj;
        if (obj.type === "FeatureCollection") {
          if (!obj.features.length) throw new Error("the file has no features");
          geometry = obj.features[0].geometry;
          if (obj.features.length > 1) setStatus("The file has " + obj.features.length + " features: the first is used.");
        } else if (obj.type === "Feature") geometry = obj.geometry;
        target.value = JSON.stringify(geometry);
        showTarget();
        setStatus("Polygon loaded from " + file.name + ".");
      } catch (err) {
        setStatus(file.name + " is not GeoJSON: " + err.message);
      }
    })
  );
  document.addEventListener("demine:form-reset", () => sketch([]));

  map.on("load", async () => {
    if (!view) {
      const res = await demine.api("GET", "/web/map/hazards");
      if (res.ok && res.data.bbox) {
        const b = res.data.bbox;
        map.fitBounds([[b[0], b[1]], [b[2], b[3]]], { padding: 20, animate: false });
      }
    }
    showTarget();
    el.dataset.ready = "true";
  });
  window.demineDraw = { map: map };
})();
