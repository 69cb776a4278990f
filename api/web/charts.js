// Charts drawn with uPlot (served from api/web/node_modules, no CDN): one per metric over the
// chosen range (bucket mean as a line, min–max as a band), and the AGP. Every chart has a text
// alternative (role="img" with a label) and its values in a table.

import { dateTime, glucoseRanges, language, number, t, unitLabel } from "./i18n.js";

const INK = "#1b1b1b";
const GRID = "#e3e3e3";
const BLUE = "#1f5fbf";
const RED = "#b3261e";
const TARGET = "rgba(11, 110, 79, 0.12)";

// What is charted, in page order; `lines` are drawn together on one chart.
const GROUPS = [
  { id: "glucose_isf", lines: ["glucose_isf"], continuous: true },
  { id: "glucose", lines: ["glucose"] },
  { id: "blood_pressure", lines: ["systolic_bp", "diastolic_bp"] },
  { id: "pulse_rate", lines: ["pulse_rate"] },
  { id: "heart_rate", lines: ["heart_rate"], continuous: true },
  { id: "spo2", lines: ["spo2"] },
  { id: "weight", lines: ["weight"] },
  { id: "body_temperature", lines: ["body_temperature"] },
];
const COLORS = [BLUE, RED];

let drawn = [];

/** Decimals a value of `metric` is shown with. */
export function digits(metric, unit) {
  if (unit === "mmol/L") return 1;
  return ["weight", "body_temperature"].includes(metric) ? 1 : 0;
}

function clear(container) {
  for (const chart of drawn.filter((c) => container.contains(c.root))) chart.destroy();
  drawn = drawn.filter((c) => document.body.contains(c.root));
  container.replaceChildren();
}

function element(tag, attributes = {}, text) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function table(headers, rows) {
  const details = element("details");
  details.append(element("summary", {}, t("charts.table")));
  const wrap = element("div", { class: "table-wrap" });
  const grid = element("table", { class: "data" });
  const head = grid.createTHead().insertRow();
  for (const header of headers) head.append(element("th", { scope: "col" }, header));
  const body = grid.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    row.forEach((cell, k) => tr.append(element(k === 0 ? "th" : "td", k === 0 ? { scope: "row" } : {}, cell)));
  }
  wrap.append(grid);
  details.append(wrap);
  return details;
}

/** Bucket centres (s) and each line's values, aligned; null breaks a continuous line. */
function align(series, bucketMs, continuous) {
  const starts = [...new Set(series.flatMap((s) => s.t_ms))].sort((a, b) => a - b);
  const xs = [];
  const rows = [];
  starts.forEach((start, k) => {
    if (continuous && k > 0 && start - starts[k - 1] > 2 * bucketMs) {
      xs.push((starts[k - 1] + 2 * bucketMs) / 1000);
      rows.push(null);
    }
    xs.push((start + bucketMs / 2) / 1000);
    rows.push(start);
  });
  const column = (s, key) => {
    const at = new Map(s.t_ms.map((start, k) => [start, s[key][k]]));
    return rows.map((start) => (start === null ? null : at.get(start) ?? null));
  };
  return { xs, column };
}

/** Decimals that tell apart ticks `step` apart (at least the metric's own). */
function stepDigits(step, decimals) {
  return Math.min(3, Math.max(decimals, -Math.floor(Math.log10(step))));
}

/** A time axis label in the page's language and the patient's zone: hours within a day,
 * otherwise day and month. */
function tick(ts, step, zone) {
  const options = step < 86400 ? { hour: "2-digit", minute: "2-digit" } : { day: "numeric", month: "short" };
  return new Intl.DateTimeFormat(language(), { timeZone: zone, ...options }).format(new Date(ts * 1000));
}

function targetBand(lo, hi) {
  return (u) => {
    const top = u.valToPos(hi, "y", true);
    const bottom = u.valToPos(lo, "y", true);
    u.ctx.save();
    u.ctx.fillStyle = TARGET;
    u.ctx.fillRect(u.bbox.left, top, u.bbox.width, bottom - top);
    u.ctx.restore();
  };
}

function width(container) {
  return Math.max(280, Math.floor(container.clientWidth || 600));
}

function plot(container, options, data) {
  const chart = new uPlot({ width: width(container), height: 260, ...options }, data, container);
  drawn.push(chart);
  return chart;
}

function metricChart(container, group, lines, trends, zone) {
  const first = lines[0];
  const decimals = digits(first.metric, first.unit);
  const unit = unitLabel(first.unit);
  const title = group.id === "blood_pressure" ? t("charts.bp") : t(`metric.${first.metric}`);
  const { xs, column } = align(lines, trends.bucket_ms, group.continuous);
  const data = [xs];
  const series = [{ label: t("charts.time"), value: (u, ts) => (ts == null ? "–" : dateTime(ts * 1000, zone)) }];
  const bands = [];
  const fmt = (u, v) => (v == null ? "–" : `${number(v, decimals)} ${unit}`);
  const sparse = xs.length < 80;
  lines.forEach((line, k) => {
    const color = COLORS[k];
    const name = lines.length > 1 ? t(`charts.${line.metric === "systolic_bp" ? "systolic" : "diastolic"}`) : t("charts.mean");
    const base = data.length;
    data.push(column(line, "mean"), column(line, "min"), column(line, "max"));
    series.push(
      { label: name, stroke: color, width: 2, value: fmt, spanGaps: !group.continuous, points: { show: sparse, size: 6, fill: color } },
      { label: `${t("charts.min")}`, stroke: `${color}66`, width: 1, value: fmt, points: { show: false }, spanGaps: !group.continuous },
      { label: `${t("charts.max")}`, stroke: `${color}66`, width: 1, value: fmt, points: { show: false }, spanGaps: !group.continuous },
    );
    bands.push({ series: [base + 2, base + 1], fill: `${color}22` });
  });
  const glucose = ["glucose", "glucose_isf"].includes(first.metric);
  const ranges = glucose ? glucoseRanges(unit) : null;
  const lo = ranges ? Number(ranges.lo.replace(",", ".")) : null;
  const hi = ranges ? Number(ranges.hi.replace(",", ".")) : null;
  const figure = element("figure", { class: "chart", "data-metric": group.id, "data-points": String(xs.length) });
  const caption = element("figcaption");
  caption.append(element("h3", {}, `${title} (${unit})`));
  figure.append(caption);
  const all = lines.flatMap((l) => [...l.min, ...l.max]);
  const count = lines.reduce((n, l) => n + l.count.reduce((a, b) => a + b, 0), 0) / lines.length;
  const area = element("div", {
    class: "plot",
    role: "img",
    "aria-label": t("charts.label", {
      metric: title,
      from: dateTime(trends.period.from, zone),
      to: dateTime(trends.period.to, zone),
      n: count,
      min: number(Math.min(...all), decimals),
      max: number(Math.max(...all), decimals),
      unit,
    }),
  });
  figure.append(area);
  const headers = [t("charts.time")];
  for (const line of lines) {
    const prefix = lines.length > 1 ? `${t(`charts.${line.metric === "systolic_bp" ? "systolic" : "diastolic"}`)} ` : "";
    headers.push(`${prefix}${t("charts.mean")}`, `${prefix}${t("charts.min")}`, `${prefix}${t("charts.max")}`, `${prefix}${t("charts.count")}`);
  }
  const starts = [...new Set(lines.flatMap((s) => s.t_ms))].sort((a, b) => a - b);
  const rows = starts.map((start) => {
    const cells = [dateTime(start, zone)];
    for (const line of lines) {
      const k = line.t_ms.indexOf(start);
      cells.push(
        ...(k < 0 ? ["–", "–", "–", "0"] : [number(line.mean[k], decimals), number(line.min[k], decimals), number(line.max[k], decimals), String(line.count[k])]),
      );
    }
    return cells;
  });
  figure.append(table(headers, rows));
  container.append(figure);
  plot(
    area,
    {
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), zone),
      scales: {
        x: { time: true, range: () => [Date.parse(trends.period.from) / 1000, Date.parse(trends.period.to) / 1000] },
        y: {
          range: (u, min, max) => {
            const low = Math.min(min ?? 0, lo ?? Infinity);
            const high = Math.max(max ?? 1, hi ?? -Infinity);
            const pad = (high - low) * 0.08 || 1;
            return [low - pad, high + pad];
          },
        },
      },
      axes: [
        { stroke: INK, grid: { stroke: GRID }, values: (u, splits, axis, space, step) => splits.map((ts) => tick(ts, step, zone)) },
        { stroke: INK, grid: { stroke: GRID }, size: 56, values: (u, splits, axis, space, step) => splits.map((v) => number(v, stepDigits(step, decimals))) },
      ],
      series,
      bands,
      hooks: glucose ? { drawClear: [targetBand(lo, hi)] } : {},
    },
    data,
  );
}

/** A chart per metric of `trends` (GET .../trends). */
export function renderCharts(container, trends, zone) {
  clear(container);
  const byMetric = Object.fromEntries(trends.series.map((s) => [s.metric, s]));
  for (const group of GROUPS) {
    const lines = group.lines.map((m) => byMetric[m]).filter((s) => s && s.t_ms.length);
    if (lines.length) metricChart(container, group, lines, trends, zone);
  }
  if (!container.children.length) container.append(element("p", { class: "empty" }, t("charts.none")));
}

/** The ambulatory glucose profile (GET .../summaries: `agp`). */
export function renderAgp(container, agp) {
  clear(container);
  if (!agp || !agp.readings) {
    container.append(element("p", { class: "empty" }, t("agp.none")));
    return;
  }
  const unit = agp.unit;
  const decimals = unit === "mmol/L" ? 1 : 0;
  const hours = agp.bins.map((b) => {
    const [h, m] = b.time.split(":").map(Number);
    return h + (m + agp.bin_minutes / 2) / 60;
  });
  const keys = ["p5", "p25", "p50", "p75", "p95"];
  const data = [hours, ...keys.map((k) => agp.bins.map((b) => b[k]))];
  const medians = data[3].filter((v) => v !== null);
  const ranges = glucoseRanges(unit);
  const lo = Number(ranges.lo.replace(",", "."));
  const hi = Number(ranges.hi.replace(",", "."));
  const fmt = (u, v) => (v == null ? "–" : `${number(v, decimals)} ${unit}`);
  const figure = element("figure", { class: "chart", "data-metric": "agp", "data-points": String(agp.readings) });
  const caption = element("figcaption");
  caption.append(element("h3", {}, `${t("agp.title")} (${unit})`));
  figure.append(caption);
  const area = element("div", {
    class: "plot",
    role: "img",
    "aria-label": t("agp.label", {
      days: agp.days_with_readings,
      min: number(Math.min(...medians), decimals),
      max: number(Math.max(...medians), decimals),
      unit,
    }),
  });
  figure.append(area);
  figure.append(
    table(
      [t("agp.hour"), ...keys.map((k) => t(k === "p50" ? "agp.median" : `agp.${k}`))],
      agp.bins.filter((b) => b.readings).map((b) => [b.time, ...keys.map((k) => number(b[k], decimals))]),
    ),
  );
  container.append(figure);
  const spline = uPlot.paths.spline();
  const line = (label, color, size, dash) => ({ label, stroke: color, width: size, dash, value: fmt, paths: spline, points: { show: false } });
  plot(
    area,
    {
      scales: { x: { time: false, range: [0, 24] }, y: { range: (u, min, max) => [Math.min(min, lo) * 0.9, Math.max(max, hi) * 1.05] } },
      axes: [
        { stroke: INK, grid: { stroke: GRID }, splits: () => [0, 3, 6, 9, 12, 15, 18, 21, 24], values: (u, v) => v.map((h) => `${String(h).padStart(2, "0")}:00`) },
        { stroke: INK, grid: { stroke: GRID }, size: 56, values: (u, splits, axis, space, step) => splits.map((v) => number(v, stepDigits(step, decimals))) },
      ],
      series: [
        { label: t("agp.hour"), value: (u, h) => (h == null ? "–" : `${String(Math.floor(h)).padStart(2, "0")}:${String(Math.round((h % 1) * 60)).padStart(2, "0")}`) },
        line(t("agp.p5"), "#5a7fbf", 1, [4, 4]),
        line(t("agp.p25"), BLUE, 1),
        line(t("agp.median"), "#0d3b8c", 3),
        line(t("agp.p75"), BLUE, 1),
        line(t("agp.p95"), "#5a7fbf", 1, [4, 4]),
      ],
      bands: [
        { series: [5, 1], fill: "rgba(31, 95, 191, 0.12)" },
        { series: [4, 2], fill: "rgba(31, 95, 191, 0.28)" },
      ],
      hooks: { drawClear: [targetBand(lo, hi)] },
    },
    data,
  );
}

/** Keep every chart as wide as its box. */
export function watchSizes() {
  let pending = 0;
  const observer = new ResizeObserver(() => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(() => {
      for (const chart of drawn) chart.setSize({ width: width(chart.root.parentElement), height: 260 });
    });
  });
  observer.observe(document.querySelector("#main"));
}
