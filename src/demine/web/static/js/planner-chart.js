// The planner's fan charts: hovering or focusing a year shows its P10/P50/P90 in a tooltip and
// a guide line. The charts arrive later as HTML fragments, so the listeners sit on the document.
"use strict";

(function () {
  function show(hit) {
    const figure = hit.closest(".fan-chart");
    if (!figure) return;
    const svg = figure.querySelector("svg");
    const tip = figure.querySelector(".fan-tip");
    const guide = svg.querySelector(".fan-guide");
    const x = Number(hit.dataset.x);
    guide.setAttribute("x1", x);
    guide.setAttribute("x2", x);
    guide.setAttribute("visibility", "visible");
    tip.replaceChildren();
    hit.dataset.tip.split("\n").forEach((line, i) => {
      const row = document.createElement(i === 0 ? "strong" : "div");
      row.textContent = line;
      tip.appendChild(row);
    });
    tip.hidden = false;
    // The SVG scales with its box: place the tip beside the point, inside the figure.
    const box = svg.getBoundingClientRect();
    const frame = figure.getBoundingClientRect();
    const px = box.left - frame.left + (x / svg.viewBox.baseVal.width) * box.width;
    const width = tip.offsetWidth;
    const left = px + 12 + width > frame.width ? px - 12 - width : px + 12;
    tip.style.left = Math.max(0, left) + "px";
    tip.style.top = box.top - frame.top + 8 + "px";
  }

  function hide(hit) {
    const figure = hit.closest(".fan-chart");
    if (!figure) return;
    figure.querySelector(".fan-tip").hidden = true;
    figure.querySelector(".fan-guide").setAttribute("visibility", "hidden");
  }

  document.addEventListener("mouseover", (event) => {
    const hit = event.target.closest && event.target.closest(".fan-hit");
    if (hit) show(hit);
  });
  document.addEventListener("mouseout", (event) => {
    const hit = event.target.closest && event.target.closest(".fan-hit");
    if (hit && !hit.contains(event.relatedTarget)) hide(hit);
  });
  document.addEventListener("focusin", (event) => {
    if (event.target.classList && event.target.classList.contains("fan-hit")) show(event.target);
  });
  document.addEventListener("focusout", (event) => {
    if (event.target.classList && event.target.classList.contains("fan-hit")) hide(event.target);
  });
})();
