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

  return { csrf: csrf, api: api, problems: problems, escapeHtml: escapeHtml };
})();
