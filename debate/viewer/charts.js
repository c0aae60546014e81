// debate view: the charts (SVG line chart, accuracy-against-compute scatter), one colour
// per run, and tick values that are round numbers. Inlined before viewer.js, in the same
// <script>; viewer.js calls debateCharts with its element and percent helpers.
"use strict";
function debateCharts(el, pct) {
  const SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  // ---- one colour per run; tick values that are round numbers -----------------------
  const PALETTE = ["#1f5fbf", "#d97706", "#2e8b57", "#b3261e", "#7b4fb3", "#0f8b8d", "#c2185b",
                   "#6d6d00", "#5d4037", "#455a64"];
  const runColour = (k) => PALETTE[k % PALETTE.length];
  const swatch = (k) => el("i", { class: "swatch", style: "background:" + runColour(k) });
  function niceTicks(max, count) {  // 0, step, 2 step... up to >= max; step 1, 2, 2.5 or 5 x 10^n
    const raw = Math.max(max, 1e-9) / (count || 4), power = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((v) => v >= raw - 1e-12);
    const ticks = [];
    for (let v = 0; v < max + step - 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
    return ticks;
  }
  const tickText = (v) => (Number.isInteger(v) ? String(v) : String(Number(v.toFixed(3))));

  // ---- charts ----------------------------------------------------------------------
  function lineChart(series, xs, xLabel) {
    const W = 380, H = 200, L = 40, R = 10, T = 10, B = 32;
    const x = (v) => L + (xs.length > 1 ? (v - xs[0]) / (xs[xs.length - 1] - xs[0]) : 0.5) * (W - L - R);
    const y = (v) => T + (1 - v) * (H - T - B);
    const root = svg("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img" });
    for (const t of [0, 0.25, 0.5, 0.75, 1]) {
      root.append(svg("line", { class: "grid", x1: L, x2: W - R, y1: y(t), y2: y(t) }));
      root.append(svg("text", { x: L - 4, y: y(t) + 4, "text-anchor": "end" }, Math.round(100 * t) + "%"));
    }
    const first = xs[0], last = xs[xs.length - 1];  // round numbers: whole, at a round step
    const shownTicks = niceTicks(Math.max(1, last), 6).filter((v) => Number.isInteger(v) && v >= first && v <= last);
    for (const v of shownTicks.length ? shownTicks : xs) root.append(svg("text", { x: x(v), y: H - B + 14, "text-anchor": "middle", class: "xtick" }, v));
    root.append(svg("text", { x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle" }, xLabel));
    series.forEach((s, k) => {
      const pts = s.points.filter((p) => p[1] !== null);
      if (pts.length > 1) root.append(svg("polyline", { class: "line s" + k,
        points: pts.map((p) => x(p[0]) + "," + y(p[1])).join(" ") }));
      for (const p of pts) {
        const dot = svg("circle", { class: "s" + k, cx: x(p[0]), cy: y(p[1]), r: 3.5 });
        dot.append(svg("title", {}, s.name + ", round " + p[0] + ": " + pct(p[1])));
        root.append(dot);
      }
    });
    const legend = el("div", { class: "legend" }, series.map((s, k) =>
      el("span", {}, el("i", { style: "background:" + (k ? "#d97706" : "#1f5fbf") }), s.name)));
    return el("div", { class: "chart" }, root, legend);
  }

  function scatter(points, xLabel) {  // points: {label, x, y, low, high}
    const W = 460, H = 240, L = 40, R = 16, T = 12, B = 34;
    const xTicks = niceTicks(Math.max(1e-9, ...points.map((p) => p.x)) * 1.05, 4);
    const max = xTicks[xTicks.length - 1];
    const x = (v) => L + (v / max) * (W - L - R), y = (v) => T + (1 - v) * (H - T - B);
    const root = svg("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img", id: "compute-chart" });
    for (const t of [0, 0.25, 0.5, 0.75, 1]) {
      root.append(svg("line", { class: "grid", x1: L, x2: W - R, y1: y(t), y2: y(t) }));
      root.append(svg("text", { x: L - 4, y: y(t) + 4, "text-anchor": "end" }, Math.round(100 * t) + "%"));
    }
    for (const v of xTicks) root.append(svg("text", { x: x(v), y: H - B + 14, "text-anchor": "middle", class: "xtick" }, tickText(v)));
    root.append(svg("text", { x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle" }, xLabel));
    points.forEach((p, k) => {  // each run its colour; its number beside the dot, its name in the legend
      if (p.y === null) return;
      const colour = runColour(k);
      if (p.low !== null) root.append(svg("line", { x1: x(p.x), x2: x(p.x), y1: y(p.low), y2: y(p.high), stroke: colour }));
      const dot = svg("circle", { cx: x(p.x), cy: y(p.y), r: 4.5, fill: colour, "data-run": k });
      dot.append(svg("title", {}, p.label + ": " + pct(p.y) + " at " + p.x.toFixed(2)));
      const right = x(p.x) > W - R - 20;
      const top = y(p.y) < T + 12;  // near the top edge: the number goes below the dot
      root.append(dot, svg("text", { x: x(p.x) + (right ? -7 : 7), y: y(p.y) + (top ? 14 : -6), fill: colour,
        "text-anchor": right ? "end" : "start" }, String(k + 1)));
    });
    const legend = el("div", { class: "legend runs-legend" }, points.map((p, k) =>
      el("span", { title: p.label }, swatch(k), (k + 1) + ". " + p.label)));
    return el("div", { class: "chart" }, root, legend);
  }

  return { lineChart, scatter, runColour, swatch, niceTicks };
}
