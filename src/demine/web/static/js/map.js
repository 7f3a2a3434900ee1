// The map page: vector tiles of the register on MapLibre GL JS, filters, popups, layer toggles.
// Works offline: Natural Earth's land, sea, coastlines and country borders ship with demine and
// are drawn under the register; DEMINE_BASEMAP_URL replaces them with a detailed base map
// (raster XYZ template, a style JSON or a PMTiles archive). Colours: demine.domain.palette.
"use strict";

(function () {
  const el = document.getElementById("map");
  const basemap = JSON.parse(el.dataset.basemap || "null");
  const statusColours = JSON.parse(el.dataset.statusColours);
  const methodColours = JSON.parse(el.dataset.methodColours);
  const palette = JSON.parse(el.dataset.palette);
  const naturalEarth = JSON.parse(el.dataset.naturalEarth || "null");
  const orgCodes = JSON.parse(el.dataset.organisations);
  const orgIds = JSON.parse(el.dataset.organisationIds);
  const statusEl = document.getElementById("map-status");
  const origin = window.location.origin;

  const POLYGON = ["match", ["geometry-type"], ["Polygon", "MultiPolygon"], true, false];
  const POINT = ["match", ["geometry-type"], ["Point", "MultiPoint"], true, false];
  const HAZARD_LAYERS = ["hazards-fill", "hazards-sha", "hazards-cha", "hazards-point"];
  const CLICKABLE = ["accidents", "finds", "hazards-point", "hazards-fill", "release-fill"];
  const RESOURCE = { hazards: "hazards", release_products: "release_products", finds: "finds", accidents: "accidents" };

  function match(property, colours, fallback) {
    const expr = ["match", ["get", property]];
    Object.keys(colours).forEach((k) => expr.push(k, colours[k]));
    expr.push(fallback);
    return expr;
  }

  function tiles(layer) {
    return { type: "vector", tiles: [origin + "/tiles/" + layer + "/{z}/{x}/{y}.mvt"], minzoom: 0, maxzoom: 16 };
  }

  const style = {
    version: 8,
    sources: {},
    layers: [
      {
        id: "background", type: "background",
        // Sea under Natural Earth's land; the plain land colour under a configured base map.
        paint: { "background-color": naturalEarth ? palette.base.water : palette.base.land },
      },
    ],
  };
  if (naturalEarth && window.topojson) {
    const empty = { type: "FeatureCollection", features: [] };
    ["ne-land", "ne-coastline", "ne-borders"].forEach((id) => (style.sources[id] = { type: "geojson", data: empty }));
    style.layers.push(
      { id: "ne-land", type: "fill", source: "ne-land", paint: { "fill-color": palette.base.land } },
      {
        id: "ne-coastline", type: "line", source: "ne-coastline",
        paint: { "line-color": palette.base.coastline, "line-width": ["interpolate", ["linear"], ["zoom"], 2, 0.6, 8, 1.4] },
      },
      {
        id: "ne-borders", type: "line", source: "ne-borders",
        paint: {
          "line-color": palette.base.border, "line-dasharray": [4, 2],
          "line-width": ["interpolate", ["linear"], ["zoom"], 2, 0.6, 8, 1.6],
        },
      }
    );
  }
  if (basemap && basemap.kind === "raster") {
    style.sources.basemap = { type: "raster", tiles: [basemap.url], tileSize: 256 };
    style.layers.push({ id: "basemap", type: "raster", source: "basemap" });
  } else if (basemap && basemap.kind === "pmtiles" && window.pmtiles) {
    const protocol = new pmtiles.Protocol();
    maplibregl.addProtocol("pmtiles", protocol.tile);
    style.sources.basemap = {
      type: "raster",
      url: "pmtiles://" + new URL(basemap.url, origin).href,
      tileSize: 256,
    };
    style.layers.push({ id: "basemap", type: "raster", source: "basemap" });
  }

  const map = new maplibregl.Map({
    container: "map",
    style: basemap && basemap.kind === "style" ? basemap.url : style,
    center: [0, 0],
    zoom: 1,
    attributionControl: false,
    preserveDrawingBuffer: true, // screenshots of the canvas in tests and reports
  });
  map.addControl(new maplibregl.NavigationControl(), "top-right");
  // The base map's licence credit (DEMINE_BASEMAP_ATTRIBUTION), plus what a style JSON declares.
  if (basemap) {
    const credit = basemap.attribution ? { customAttribution: basemap.attribution } : {};
    map.addControl(new maplibregl.AttributionControl(Object.assign({ compact: true }, credit)), "bottom-right");
  } else if (naturalEarth) {
    map.addControl(new maplibregl.AttributionControl({ compact: true, customAttribution: "Natural Earth" }), "bottom-right");
  }

  // Natural Earth ships as TopoJSON (one file, shared arcs): land is its merged outline, the
  // coastline the arcs of one country only, a border the arcs two countries share.
  async function loadNaturalEarth() {
    const res = await fetch(naturalEarth);
    if (!res.ok) throw new Error("Natural Earth base map: HTTP " + res.status);
    const world = await res.json();
    const countries = world.objects.countries;
    map.getSource("ne-land").setData(topojson.feature(world, world.objects.land));
    map.getSource("ne-coastline").setData(topojson.mesh(world, countries, (a, b) => a === b));
    map.getSource("ne-borders").setData(topojson.mesh(world, countries, (a, b) => a !== b));
    el.dataset.naturalEarthLoaded = "true";
  }
  map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-left");
  map.keyboard.enable();

  function addLayers() {
    map.addSource("admin", { type: "geojson", data: origin + "/api/admin_areas?limit=10000" });
    ["hazards", "release_products", "finds", "accidents"].forEach((name) => map.addSource(name, tiles(name)));
    map.addLayer({
      id: "admin-line", type: "line", source: "admin",
      paint: { "line-color": palette.base.admin, "line-width": ["match", ["get", "level"], 1, 2, 0.8], "line-opacity": 0.8 },
    });
    map.addLayer({
      id: "release-fill", type: "fill", source: "release_products", "source-layer": "release_products",
      filter: POLYGON, paint: { "fill-color": match("method", methodColours, "#999"), "fill-opacity": 0.55 },
    });
    map.addLayer({
      id: "hazards-fill", type: "fill", source: "hazards", "source-layer": "hazards", filter: POLYGON,
      paint: {
        "fill-color": match("status", statusColours, "#999"),
        "fill-opacity": ["match", ["get", "hazard_type"], "CHA", 0.6, 0.35],
      },
    });
    map.addLayer({
      id: "hazards-sha", type: "line", source: "hazards", "source-layer": "hazards",
      filter: ["all", POLYGON, ["==", ["get", "hazard_type"], "SHA"]],
      paint: { "line-color": match("status", statusColours, "#999"), "line-width": 1.5, "line-dasharray": [2, 2] },
    });
    map.addLayer({
      id: "hazards-cha", type: "line", source: "hazards", "source-layer": "hazards",
      filter: ["all", POLYGON, ["==", ["get", "hazard_type"], "CHA"]],
      paint: { "line-color": match("status", statusColours, "#999"), "line-width": 2 },
    });
    map.addLayer({
      id: "hazards-point", type: "circle", source: "hazards", "source-layer": "hazards", filter: POINT,
      paint: {
        "circle-color": match("status", statusColours, "#999"), "circle-radius": 4,
        "circle-stroke-color": "#222", "circle-stroke-width": ["match", ["get", "hazard_type"], "CHA", 1.2, 0.4],
      },
    });
    map.addLayer({
      id: "finds", type: "circle", source: "finds", "source-layer": "finds",
      paint: { "circle-color": palette.find, "circle-radius": ["interpolate", ["linear"], ["zoom"], 7, 1.8, 12, 3.5], "circle-stroke-color": palette.find_ring, "circle-stroke-width": 0.8 },
    });
    map.addLayer({
      id: "accidents", type: "circle", source: "accidents", "source-layer": "accidents",
      paint: { "circle-color": palette.accident, "circle-radius": 6, "circle-stroke-color": palette.accident_ring, "circle-stroke-width": 2 },
    });
  }

  const GROUPS = {
    hazards: HAZARD_LAYERS,
    release_products: ["release-fill"],
    finds: ["finds"],
    accidents: ["accidents"],
    admin: ["admin-line"],
  };
  const BASE_FILTER = {
    "hazards-fill": POLYGON,
    "hazards-sha": ["all", POLYGON, ["==", ["get", "hazard_type"], "SHA"]],
    "hazards-cha": ["all", POLYGON, ["==", ["get", "hazard_type"], "CHA"]],
    "hazards-point": POINT,
    "release-fill": POLYGON,
    finds: null,
  };

  const form = document.getElementById("map-filters");
  let matched = null;

  function current() {
    const data = new FormData(form);
    const out = {};
    for (const [k, v] of data.entries()) if (v) out[k] = v;
    return out;
  }

  // Status, type and organisation are MapLibre expressions on the tiles' properties; the admin
  // area (not in the tiles) becomes the list of matching hazard ids from the server, and the
  // release products and finds follow the matching hazards by code.
  async function applyFilters(fit) {
    const f = current();
    const hazardTerms = [];
    if (f.status) hazardTerms.push(["==", ["get", "status"], f.status]);
    if (f.type) hazardTerms.push(["==", ["get", "hazard_type"], f.type]);
    if (f.organisation) hazardTerms.push(["==", ["get", "organisation_id"], orgIds[orgCodes.indexOf(f.organisation)]]);
    const query = new URLSearchParams(f).toString();
    statusEl.textContent = "Filtering…";
    const res = await demine.api("GET", "/web/map/hazards?" + query);
    if (!res.ok) {
      statusEl.textContent = "Could not filter: " + demine.problems(res.data).map((p) => p.message).join("; ");
      return;
    }
    matched = res.data;
    if (f.admin_area) hazardTerms.push(["in", ["id"], ["literal", matched.ids]]);
    const active = Object.keys(f).length > 0;
    HAZARD_LAYERS.forEach((id) => map.setFilter(id, ["all", BASE_FILTER[id]].concat(hazardTerms)));
    const byCode = active ? [["in", ["get", "hazard_code"], ["literal", matched.codes]]] : [];
    map.setFilter("release-fill", ["all", POLYGON].concat(byCode));
    map.setFilter("finds", byCode.length ? byCode[0] : null);
    if (fit && matched.bbox) fitTo(matched.bbox);
    map.once("idle", report);
    map.triggerRepaint();
  }

  function fitTo(b) {
    map.fitBounds([[b[0], b[1]], [b[2], b[3]]], { padding: 40, animate: false, maxZoom: 15 });
  }

  // A record's id is the tile feature's id (PostGIS tiles carry it only there; ours also as a property).
  function recordId(f) {
    return f.id !== undefined ? f.id : f.properties.id;
  }

  function renderedHazardCount() {
    const seen = new Set();
    map.queryRenderedFeatures({ layers: HAZARD_LAYERS }).forEach((f) => seen.add(recordId(f)));
    return seen.size;
  }

  function report() {
    const shown = renderedHazardCount();
    const n = matched ? matched.count : 0;
    statusEl.textContent = n.toLocaleString() + " hazards match the filters; " + shown.toLocaleString() + " drawn in this view.";
    el.dataset.rendered = String(shown);
    el.dataset.matched = String(n);
  }

  function popupHtml(f) {
    const layer = f.sourceLayer || f.source;
    const p = f.properties;
    const rows = Object.keys(p)
      .filter((k) => k !== "id")
      .map((k) => {
        let v = p[k];
        if (k.endsWith("_m2") && typeof v === "number") v = Math.round(v).toLocaleString() + " m²";
        if (k === "organisation_id") {
          k = "organisation";
          v = orgCodes[orgIds.indexOf(v)] || v;
        }
        return "<tr><th scope='row'>" + demine.escapeHtml(k.replace(/_/g, " ")) + "</th><td>" + demine.escapeHtml(v) + "</td></tr>";
      })
      .join("");
    const title = p.code || p.hazard_code || layer;
    return (
      "<h2>" + demine.escapeHtml(layer.replace(/_/g, " ")) + " " + demine.escapeHtml(title) + "</h2>" +
      "<table class='popup-table'>" + rows + "</table>" +
      "<p><a class='record-link' href='/records/" + RESOURCE[layer] + "/" + encodeURIComponent(recordId(f)) + "'>Open the record and its history</a></p>"
    );
  }

  // A popup never wider than the map, and the map moved under it until it lies inside both the
  // map and the screen: on a phone a 320 px popup beside a tap near the edge would stick out.
  function openPopup(lngLat, html) {
    const width = Math.min(320, el.clientWidth - 24);
    const popup = new maplibregl.Popup({ maxWidth: width + "px" }).setLngLat(lngLat).setHTML(html).addTo(map);
    for (let i = 0; i < 3; i++) {
      const box = popup.getElement().getBoundingClientRect();
      const frame = el.getBoundingClientRect();
      const left = Math.max(frame.left, 0) + 8;
      const right = Math.min(frame.right, window.innerWidth) - 8;
      const top = Math.max(frame.top, 0) + 8;
      const bottom = Math.min(frame.bottom, window.innerHeight) - 8;
      let dx = 0;
      let dy = 0;
      if (box.left < left) dx = box.left - left;
      else if (box.right > right) dx = box.right - right;
      if (box.top < top) dy = box.top - top;
      else if (box.bottom > bottom) dy = box.bottom - bottom;
      if (!dx && !dy) break;
      map.panBy([dx, dy], { animate: false });
      popup.setLngLat(lngLat); // re-anchors the popup at the point's new place
    }
    return popup;
  }

  map.on("load", async () => {
    addLayers();
    if (map.getSource("ne-land")) {
      loadNaturalEarth().catch((err) => {
        statusEl.textContent = String(err);
      });
    }
    form.addEventListener("change", () => applyFilters(true));
    form.addEventListener("reset", () => setTimeout(() => applyFilters(true), 0));
    document.querySelectorAll("[data-layer]").forEach((box) =>
      box.addEventListener("change", () => {
        GROUPS[box.dataset.layer].forEach((id) => map.setLayoutProperty(id, "visibility", box.checked ? "visible" : "none"));
      })
    );
    map.on("click", (e) => {
      const box = [[e.point.x - 3, e.point.y - 3], [e.point.x + 3, e.point.y + 3]];
      const found = map.queryRenderedFeatures(box, { layers: CLICKABLE });
      if (!found.length) return;
      openPopup(e.lngLat, popupHtml(found[0]));
    });
    CLICKABLE.forEach((id) => {
      map.on("mouseenter", id, () => (map.getCanvas().style.cursor = "pointer"));
      map.on("mouseleave", id, () => (map.getCanvas().style.cursor = ""));
    });
    map.on("moveend", () => {
      const c = map.getCenter();
      const link = document.getElementById("new-hazard"); // only for roles that enter records
      if (link) {
        link.href = "/submit/hazard?center=" + c.lng.toFixed(5) + "," + c.lat.toFixed(5) + "&zoom=" + map.getZoom().toFixed(1);
      }
      if (matched) report();
    });
    await applyFilters(true);
    el.dataset.ready = "true";
  });

  window.demineMap = { map: map, renderedHazardCount: renderedHazardCount, applyFilters: applyFilters, recordId: recordId, openPopup: openPopup };
})();
