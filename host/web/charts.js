// Charts as inline SVG, drawn from the server's aggregates (a few dozen
// points however many holders the snapshot has). Each chart comes with its
// numbers as a table, for screen readers and for exact values.

import { count, percent, powerLabel } from "./format.js";

const SVG = "http://www.w3.org/2000/svg";
const W = 640;
const H = 300;
const PAD = { left: 56, right: 16, top: 16, bottom: 48 };

function el(name, attributes = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function html(name, attributes = {}, text) {
  const node = document.createElement(name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function frame(figure, id, title, description) {
  figure.replaceChildren();
  figure.append(html("figcaption", { id: `${id}-title` }, title));
  const svg = el("svg", {
    viewBox: `0 0 ${W} ${H}`,
    role: "img",
    "aria-labelledby": `${id}-title ${id}-desc`,
    preserveAspectRatio: "xMidYMid meet",
  });
  svg.append(el("desc", { id: `${id}-desc` }, description));
  figure.append(svg);
  return svg;
}

function table(figure, summary, headers, rows) {
  const details = html("details");
  details.append(html("summary", {}, summary));
  const t = html("table");
  const head = html("tr");
  headers.forEach((h, i) => head.append(html("th", { scope: "col", class: i ? "num" : "" }, h)));
  const thead = html("thead");
  thead.append(head);
  t.append(thead);
  const body = html("tbody");
  for (const row of rows) {
    const tr = html("tr");
    row.forEach((cell, i) => tr.append(html("td", { class: i ? "num" : "" }, cell)));
    body.append(tr);
  }
  t.append(body);
  details.append(t);
  figure.append(details);
}

function empty(figure, title, message) {
  figure.replaceChildren(html("figcaption", {}, title), html("p", { class: "empty" }, message));
}

/**
 * Share of the total held by the top N holders, N on a log scale
 * (`cumulative`: `[{holders, share}]`, ascending, last = every holder).
 */
export function cumulativeChart(figure, cumulative) {
  const title = "Share of the total held by the largest holders";
  if (!cumulative.length) return empty(figure, title, "No holders: nothing to chart.");
  const last = cumulative[cumulative.length - 1];
  const maxLog = Math.max(Math.log10(last.holders), 1);
  const x = (n) => PAD.left + (Math.log10(n) / maxLog) * (W - PAD.left - PAD.right);
  const y = (fraction) => H - PAD.bottom - fraction * (H - PAD.top - PAD.bottom);
  const svg = frame(
    figure,
    "cumulative",
    title,
    cumulative.map((c) => `top ${count(c.holders)}: ${percent(c.share)}`).join("; "),
  );
  const axes = el("g", { class: "axis" });
  for (const tick of [0, 0.25, 0.5, 0.75, 1]) {
    axes.append(el("line", { x1: PAD.left, x2: W - PAD.right, y1: y(tick), y2: y(tick), class: "grid" }));
    axes.append(el("text", { x: PAD.left - 8, y: y(tick) + 4, "text-anchor": "end" }, `${tick * 100} %`));
  }
  for (let e = 0; e <= Math.floor(maxLog); e++) {
    const n = 10 ** e;
    axes.append(el("line", { x1: x(n), x2: x(n), y1: y(0), y2: y(0) + 5 }));
    axes.append(el("text", { x: x(n), y: y(0) + 20, "text-anchor": "middle" }, count(n)));
  }
  axes.append(el("text", { x: (W + PAD.left) / 2, y: H - 8, "text-anchor": "middle" }, "top N holders (log scale)"));
  svg.append(axes);
  const points = [[x(1), y(0)], ...cumulative.map((c) => [x(c.holders), y(Number(c.share))])];
  // The share is flat between two points only in the worst case; draw the
  // line through the known points.
  const area = `M${points.map((p) => p.join(",")).join(" L")} L${x(last.holders)},${y(0)} Z`;
  svg.append(el("path", { d: area, class: "area" }));
  svg.append(el("polyline", { points: points.slice(1).map((p) => p.join(",")).join(" "), class: "line" }));
  for (const c of cumulative) {
    const dot = el("circle", { cx: x(c.holders), cy: y(Number(c.share)), r: 4, class: "dot" });
    dot.append(el("title", {}, `top ${count(c.holders)}: ${percent(c.share, 4)}`));
    svg.append(dot);
  }
  table(
    figure,
    "Numbers",
    ["Top holders", "Share of total"],
    cumulative.map((c) => [count(c.holders), percent(c.share, 4)]),
  );
}

/**
 * Holders per power of ten of their balance (`histogram`: `[{exponent,
 * count, share}]`, contiguous exponents).
 */
export function histogramChart(figure, histogram, symbol) {
  const title = `Holders by balance${symbol ? ` (${symbol})` : ""}, log scale`;
  if (!histogram.length) return empty(figure, title, "No positive balances: nothing to chart.");
  const max = Math.max(...histogram.map((b) => b.count), 1);
  const slot = (W - PAD.left - PAD.right) / histogram.length;
  const y = (n) => H - PAD.bottom - (n / max) * (H - PAD.top - PAD.bottom);
  const svg = frame(
    figure,
    "histogram",
    title,
    histogram
      .map((b) => `${powerLabel(b.exponent)} to ${powerLabel(b.exponent + 1)}: ${count(b.count)} holders`)
      .join("; "),
  );
  const axes = el("g", { class: "axis" });
  for (const tick of [0, 0.5, 1]) {
    const n = Math.round(max * tick);
    axes.append(el("line", { x1: PAD.left, x2: W - PAD.right, y1: y(n), y2: y(n), class: "grid" }));
    axes.append(el("text", { x: PAD.left - 8, y: y(n) + 4, "text-anchor": "end" }, count(n)));
  }
  // Label every bucket when they fit, else every other one.
  const every = histogram.length > 16 ? Math.ceil(histogram.length / 16) : 1;
  histogram.forEach((b, i) => {
    const left = PAD.left + i * slot;
    const bar = el("rect", {
      x: left + slot * 0.1,
      y: y(b.count),
      width: slot * 0.8,
      height: Math.max(y(0) - y(b.count), b.count ? 1 : 0),
      class: "bar",
    });
    bar.append(
      el("title", {}, `${count(b.count)} holders with ${powerLabel(b.exponent)} to ${powerLabel(b.exponent + 1)}`),
    );
    svg.append(bar);
    if (i % every === 0) {
      axes.append(el("text", { x: left + slot / 2, y: y(0) + 20, "text-anchor": "middle" }, powerLabel(b.exponent)));
    }
  });
  axes.append(el("text", { x: (W + PAD.left) / 2, y: H - 8, "text-anchor": "middle" }, "balance at least (whole tokens)"));
  svg.append(axes);
  table(
    figure,
    "Numbers",
    ["Balance", "Holders", "Share of total"],
    histogram.map((b) => [
      `${powerLabel(b.exponent)} – ${powerLabel(b.exponent + 1)}`,
      count(b.count),
      percent(b.share, 4),
    ]),
  );
}
