// The planner page: loads the forecast and the priorities as HTML fragments, runs scenarios
// built in the editor (rows map to the scenario TOML tables) and the workplan on request.
"use strict";

(function () {
  async function load(el) {
    const res = await fetch(el.dataset.src, { credentials: "same-origin" });
    el.innerHTML = res.ok ? await res.text() : "<p class='error'>Could not load: " + res.status + "</p>";
    el.setAttribute("aria-busy", "false");
    el.dataset.loaded = "true";
  }
  document.querySelectorAll("[data-src]").forEach(load);

  async function postHtml(url, body) {
    const res = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": demine.csrf() },
      body: JSON.stringify(body),
    });
    const type = res.headers.get("Content-Type") || "";
    return { ok: res.ok, status: res.status, data: type.includes("json") ? await res.json() : await res.text() };
  }

  const rows = document.getElementById("rows");
  document.querySelectorAll("[data-add]").forEach((button) =>
    button.addEventListener("click", () => {
      const template = document.getElementById("row-" + button.dataset.add);
      const row = template.content.firstElementChild.cloneNode(true);
      rows.appendChild(row);
      row.querySelector("select, input").focus();
    })
  );
  rows.addEventListener("click", (event) => {
    if (event.target.matches("[data-remove]")) event.target.closest("fieldset").remove();
  });

  function scenario() {
    const out = { name: document.getElementById("s-name").value.trim() || "scenario" };
    const counters = {};
    rows.querySelectorAll("fieldset[data-table]").forEach((fs) => {
      const table = fs.dataset.table;
      counters[table] = (counters[table] || 0) + 1;
      const item = {};
      fs.querySelectorAll("[data-key]").forEach((input) => {
        const v = input.value.trim();
        if (v === "") return;
        item[input.dataset.key] = input.dataset.type === "number" ? Number(v) : v;
      });
      fs.dataset.index = String(counters[table] - 1);
      (out[table] = out[table] || []).push(item);
    });
    return out;
  }

  const form = document.getElementById("scenario-form");
  const errors = document.getElementById("scenario-errors");
  const result = document.getElementById("scenario-result");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errors.innerHTML = "";
    const button = document.getElementById("run-scenario");
    button.disabled = true;
    result.innerHTML = "<p class='busy'>Running baseline and scenario…</p>";
    const trials = Number(document.getElementById("s-trials").value) || 500;
    const res = await postHtml("/web/planner/scenario", { scenario: scenario(), trials: trials });
    button.disabled = false;
    if (!res.ok) {
      result.innerHTML = "";
      const list = demine.problems(res.data).map((p) => "<li>" + demine.escapeHtml((p.field ? p.field + ": " : "") + p.message) + "</li>");
      errors.innerHTML = "<div class='notice error'><p>The scenario has problems:</p><ul>" + list.join("") + "</ul></div>";
      return;
    }
    result.innerHTML = res.data;
    result.dataset.loaded = "true";
  });

  const wform = document.getElementById("workplan-form");
  wform.addEventListener("submit", async (event) => {
    event.preventDefault();
    const progress = document.getElementById("workplan-progress");
    const button = document.getElementById("run-workplan");
    const limit = Number(document.getElementById("w-limit").value) || 10;
    button.disabled = true;
    const started = Date.now();
    const tick = setInterval(() => {
      progress.textContent = "Planning… " + Math.round((Date.now() - started) / 1000) + " s (the solver stops after " + limit + " s)";
    }, 500);
    const res = await postHtml("/web/planner/workplan", { months: Number(document.getElementById("w-months").value) || 12, time_limit: limit });
    clearInterval(tick);
    button.disabled = false;
    const out = document.getElementById("workplan");
    if (!res.ok) {
      progress.textContent = "";
      out.innerHTML = "<p class='error'>" + demine.escapeHtml(demine.problems(res.data).map((p) => p.message).join("; ")) + "</p>";
      return;
    }
    progress.textContent = "Planned in " + Math.round((Date.now() - started) / 100) / 10 + " s.";
    out.innerHTML = res.data;
    out.dataset.loaded = "true";
  });
})();
