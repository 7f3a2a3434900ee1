// Data entry: reads the form into the kind's JSON payload, sends it to the approval workflow
// (operators) or straight to the register (the authority), and shows each problem the API
// reports next to the field it names.
"use strict";

(function () {
  const form = document.getElementById("record-form");
  if (!form) return;
  const result = document.getElementById("form-result");
  const FIELD_ALIASES = { geom: "geometry", entered_geometry: "geometry", benchmark_lon: "benchmark", benchmark_lat: "benchmark" };

  function geometryValue(text) {
    const t = text.trim();
    if (!t) return undefined;
    if (t[0] !== "{") return t; // WKT
    try {
      const obj = JSON.parse(t);
      if (obj.type === "FeatureCollection") return obj.features.length ? obj.features[0].geometry : obj;
      if (obj.type === "Feature") return obj.geometry;
      return obj;
    } catch (err) {
      return t; // the API reports what is wrong with it, next to the field
    }
  }

  function payload() {
    const out = {};
    form.querySelectorAll(".field").forEach((div) => {
      const name = div.dataset.field;
      const kind = div.dataset.kind;
      if (kind === "lonlat") {
        const lon = form.elements[name + "_lon"].value;
        const lat = form.elements[name + "_lat"].value;
        if (lon !== "" || lat !== "") out[name] = [lon === "" ? null : Number(lon), lat === "" ? null : Number(lat)];
        return;
      }
      const input = form.elements[name];
      if (kind === "bool") {
        if (input.checked) out[name] = true;
      } else if (kind === "multi") {
        const values = Array.from(input.selectedOptions).map((o) => o.value);
        if (values.length) out[name] = values;
      } else if (kind === "geometry") {
        const g = geometryValue(input.value);
        if (g !== undefined) out[name] = g;
      } else {
        const v = input.value.trim();
        if (v === "") return;
        out[name] = kind === "int" || kind === "float" ? Number(v) : v;
      }
    });
    return out;
  }

  function clearErrors() {
    form.querySelectorAll(".field.invalid").forEach((d) => d.classList.remove("invalid"));
    form.querySelectorAll(".field-error").forEach((e) => (e.textContent = ""));
    form.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
    result.innerHTML = "";
  }

  function showProblems(problems) {
    const unplaced = [];
    let first = null;
    problems.forEach((p) => {
      const name = FIELD_ALIASES[p.field] || p.field;
      const div = name ? form.querySelector('.field[data-field="' + CSS.escape(name) + '"]') : null;
      if (!div) {
        unplaced.push((p.field ? p.field + ": " : "") + p.message);
        return;
      }
      div.classList.add("invalid");
      const err = document.getElementById("err-" + name);
      err.textContent = (err.textContent ? err.textContent + "; " : "") + p.message;
      const input = div.querySelector("input, select, textarea");
      if (input) {
        input.setAttribute("aria-invalid", "true");
        if (!first) first = input;
      }
    });
    const count = problems.length;
    result.innerHTML =
      "<div class='notice error' role='alert'><p><strong>" + count + " problem" + (count === 1 ? "" : "s") +
      " to fix</strong>" + (unplaced.length ? ":" : " (shown next to the fields).") + "</p>" +
      (unplaced.length ? "<ul>" + unplaced.map((m) => "<li>" + demine.escapeHtml(m) + "</li>").join("") + "</ul>" : "") +
      "</div>";
    (first || result).focus();
  }

  // A submission being revised: its payload fills the form.
  function fill(data) {
    form.querySelectorAll(".field").forEach((div) => {
      const name = div.dataset.field;
      const kind = div.dataset.kind;
      const value = data[name];
      if (value === undefined || value === null) return;
      if (kind === "lonlat") {
        form.elements[name + "_lon"].value = value[0];
        form.elements[name + "_lat"].value = value[1];
        return;
      }
      const input = form.elements[name];
      if (kind === "bool") input.checked = Boolean(value);
      else if (kind === "multi") Array.from(input.options).forEach((o) => (o.selected = value.includes(o.value)));
      else if (kind === "geometry") {
        input.value = typeof value === "string" ? value : JSON.stringify(value);
        input.dispatchEvent(new Event("input"));
      } else input.value = value;
    });
  }
  const revision = document.getElementById("revision-payload");
  if (revision) fill(JSON.parse(revision.textContent));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    const button = document.getElementById("send");
    button.disabled = true;
    button.classList.add("busy");
    const mode = form.dataset.mode;
    const body = payload();
    const revising = form.dataset.reviseId;
    let res;
    if (revising) {
      res = await demine.api("PUT", "/api/submissions/" + revising, { payload: body }, { "If-Match": '"' + form.dataset.reviseVersion + '"' });
      if (res.ok) form.dataset.reviseVersion = res.data.version;
    } else if (mode === "submit") {
      res = await demine.api("POST", "/api/submissions", { kind: form.dataset.kind, payload: body });
    } else {
      res = await demine.api("POST", "/api/" + form.dataset.resource, body);
    }
    button.disabled = false;
    button.classList.remove("busy");
    if (!res.ok) {
      showProblems(demine.problems(res.data));
      return;
    }
    let message;
    if (revising) {
      message = "Submission <strong id='submission-id'>" + res.data.id + "</strong> revised and sent again for verification. " +
        "<a href='/review'>See it in the review queue</a>.";
      result.innerHTML = "<div class='notice success' role='status'>" + message + "</div>";
      result.focus();
      return; // the form keeps the revised values
    }
    if (mode === "submit") {
      message = "Submission <strong id='submission-id'>" + res.data.id + "</strong> sent: it waits for verification by your manager. " +
        "<a href='/review'>See it in the review queue</a>.";
    } else {
      const id = res.data.id !== undefined ? res.data.id : (res.data.properties || {}).id;
      message = "Saved to the register. <a href='/records/" + form.dataset.resource + "/" + id + "'>Open the record</a>.";
    }
    result.innerHTML = "<div class='notice success' role='status'>" + message + "</div>";
    result.focus();
    form.reset();
    document.dispatchEvent(new CustomEvent("demine:form-reset"));
  });
})();
