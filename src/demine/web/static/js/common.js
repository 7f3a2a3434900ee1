// Shared helpers of the pages: calling the REST API with the session's CSRF token, and
// showing the API's problems next to the fields they name.
"use strict";

window.demine = (function () {
  function csrf() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  // fetch() with JSON in and out; unsafe methods carry X-CSRF-Token. Never throws on HTTP errors.
  async function api(method, url, body, headers) {
    const h = Object.assign({ Accept: "application/json" }, headers || {});
    if (method !== "GET" && method !== "HEAD") h["X-CSRF-Token"] = csrf();
    const init = { method: method, headers: h, credentials: "same-origin" };
    if (body !== undefined) {
      h["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (err) {
      return { ok: false, status: 0, data: { detail: "the server could not be reached: " + err.message } };
    }
    const type = response.headers.get("Content-Type") || "";
    let data = null;
    if (type.includes("json")) data = await response.json();
    else data = await response.text();
    return { ok: response.ok, status: response.status, data: data, response: response };
  }

  // The API's errors as [{field, message}]: demine's own problems, or FastAPI's request
  // validation errors (whose loc ends with the field name).
  function problems(data) {
    if (!data || typeof data !== "object") return [{ field: "", message: String(data || "error") }];
    if (Array.isArray(data.problems)) return data.problems.map((p) => ({ field: p.field, message: p.message, record: p.record }));
    if (Array.isArray(data.detail)) {
      return data.detail.map((d) => {
        const loc = (d.loc || []).filter((x) => typeof x === "string" && !["body", "payload", "scenario"].includes(x));
        return { field: loc.length ? loc[loc.length - 1] : "", message: d.msg };
      });
    }
    return [{ field: "", message: data.detail || "error" }];
  }

  function escapeHtml(value) {
    return String(value).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }

  // The device's position for a form: resolves {lon, lat, accuracy} (metres) or rejects with a
  // sentence a person can act on. Browsers give it only to secure pages (HTTPS or localhost).
  function locate() {
    return new Promise((resolve, reject) => {
      if (!window.isSecureContext || !navigator.geolocation) {
        reject(new Error("this browser gives the location only to pages served over HTTPS; tap the map or type the coordinates"));
        return;
      }
      navigator.geolocation.getCurrentPosition(
        (pos) => resolve({ lon: pos.coords.longitude, lat: pos.coords.latitude, accuracy: pos.coords.accuracy }),
        (err) => {
          const why = {
            1: "the location was not allowed: allow it in the browser's site settings, or tap the map",
            2: "the position is not available (no GPS fix yet?): try again in the open, or tap the map",
            3: "no position within 20 s: try again, or tap the map",
          };
          reject(new Error(why[err.code] || err.message));
        },
        { enableHighAccuracy: true, timeout: 20000, maximumAge: 10000 }
      );
    });
  }

  return { csrf: csrf, api: api, problems: problems, escapeHtml: escapeHtml, locate: locate };
})();

// Narrow screens (phones): the main menu folds behind its button, and panels marked
// data-fold-narrow (the map's filters and legend) start closed. Without script both stay open.
(function () {
  const narrow = window.matchMedia("(max-width: 700px)");
  const toggle = document.querySelector(".menu-toggle");
  const menu = document.getElementById("site-menu");
  function setMenu(open) {
    toggle.setAttribute("aria-expanded", String(open));
    menu.classList.toggle("folded", !open);
  }
  if (toggle && menu) {
    toggle.hidden = false;
    setMenu(!narrow.matches);
    toggle.addEventListener("click", () => setMenu(toggle.getAttribute("aria-expanded") !== "true"));
  }
  const folds = document.querySelectorAll("details[data-fold-narrow]");
  function fold() {
    folds.forEach((d) => (d.open = !narrow.matches));
    if (toggle && menu) setMenu(!narrow.matches);
  }
  fold();
  narrow.addEventListener("change", fold);
})();
