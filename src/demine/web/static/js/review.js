// The review queue: verify, approve or reject a submission through the workflow API, with
// If-Match on the version shown (someone else's newer decision gives a conflict, not an overwrite).
"use strict";

(function () {
  const table = document.getElementById("submissions");
  if (!table) return;
  const message = document.getElementById("review-message");
  table.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const row = button.closest("tr");
    const error = row.querySelector(".field-error");
    const action = button.dataset.action;
    const id = row.dataset.id;
    error.textContent = "";
    let body;
    if (action === "reject") {
      const reason = row.querySelector(".reason").value.trim();
      if (!reason) {
        error.textContent = "Give a reason for rejecting.";
        row.querySelector(".reason").focus();
        return;
      }
      body = { reason: reason };
    }
    row.querySelectorAll("button").forEach((b) => (b.disabled = true));
    const res = await demine.api("POST", "/api/submissions/" + id + "/" + action, body, { "If-Match": '"' + row.dataset.version + '"' });
    if (!res.ok) {
      row.querySelectorAll("button").forEach((b) => (b.disabled = false));
      error.textContent = demine.problems(res.data).map((p) => (p.field ? p.field + ": " : "") + p.message).join("; ");
      return;
    }
    message.textContent = "Submission " + id + " " + res.data.status + ".";
    row.dataset.version = res.data.version;
    row.dataset.status = res.data.status;
    row.querySelector(".status").textContent = res.data.status;
    row.querySelector(".actions").innerHTML = "";
    if (res.data.record_id) {
      const links = { hazard: "hazards", activity: "activities", release_product: "release_products", progress_report: "progress_reports", eo_find: "finds", accident: "accidents" };
      const resource = links[res.data.record_table];
      if (resource) row.querySelector(".actions").innerHTML = "<a href='/records/" + resource + "/" + res.data.record_id + "'>open the record</a>";
    }
  });
})();
