// The page's sections other than charts: tiles, alerts, documents, consent, access history.
// Text from the API always goes in with textContent, never as HTML.

import { digits } from "./charts.js";
import { dateTime, day, glucoseRanges, number, t, unitLabel } from "./i18n.js";

const TILE_ORDER = ["glucose_isf", "glucose", "blood_pressure", "pulse_rate", "heart_rate", "spo2", "weight", "body_temperature"];

export function element(tag, attributes = {}, text) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function tile(metric, title, value, unit, detail) {
  const item = element("li", { class: "tile", "data-metric": metric });
  item.append(element("h3", {}, title));
  const line = element("p", { class: "value" }, value);
  if (unit) line.append(" ", element("span", { class: "unit" }, unitLabel(unit)));
  item.append(line);
  for (const text of [detail].flat().filter(Boolean)) item.append(element("p", { class: "detail" }, text));
  return item;
}

/** Tiles of the latest trusted reading of each metric (`summaries.latest`). */
export function renderLatest(list, latest, zone) {
  list.replaceChildren();
  const shown = { ...latest };
  const sys = latest.systolic_bp;
  const dia = latest.diastolic_bp;
  if (sys && dia) shown.blood_pressure = { ...sys, pair: dia };
  for (const metric of TILE_ORDER) {
    const reading = shown[metric];
    if (!reading) continue;
    const value = reading.pair
      ? `${number(reading.value)}/${number(reading.pair.value)}`
      : number(reading.value, digits(metric, reading.unit));
    const flags = [...reading.flags, ...(reading.pair?.flags ?? [])];
    const notes = [dateTime(reading.time, zone)];
    if (flags.some((f) => f.startsWith("critical-"))) notes.push(t("latest.critical"));
    const item = tile(metric, t(`metric.${metric}`), value, reading.unit, notes);
    if (notes.length > 1) item.classList.add("critical");
    list.append(item);
  }
  if (!list.children.length) list.append(element("li", { class: "empty" }, t("latest.none")));
}

function rangeBar(cgm) {
  const r = glucoseRanges(cgm.unit);
  const parts = [
    ["very-low", t("tir.veryLow", r), cgm.tbr_below_54_percent],
    ["low", t("tir.low", r), cgm.tbr_below_70_percent - cgm.tbr_below_54_percent],
    ["in-range", t("tir.inRange", r), cgm.tir_70_180_percent],
    ["high", t("tir.high", r), cgm.tar_above_180_percent - cgm.tar_above_250_percent],
    ["very-high", t("tir.veryHigh", r), cgm.tar_above_250_percent],
  ];
  const bar = element("div", { class: "range-bar-chart", "aria-hidden": "true" });
  const legend = element("ul", { class: "range-legend" });
  for (const [kind, label, share] of parts.reverse()) {
    const piece = element("span", { class: `band ${kind}` });
    piece.style.flexBasis = `${Math.max(0, share)}%`;
    bar.append(piece);
    const entry = element("li", { class: kind });
    entry.append(element("span", { class: `swatch ${kind}` }), `${label} : ${number(share, 1)} %`);
    legend.append(entry);
  }
  return [bar, legend];
}

function cgmTile(cgm, unit) {
  const glucose = (field) => cgm[unit === "mmol/L" ? `${field}_mmol_l` : `${field}_mg_dl`];
  const item = tile("cgm", t("cgm.title"), `${number(cgm.tir_70_180_percent, 0)} %`, null, [
    t("cgm.tir", glucoseRanges(unit)),
  ]);
  item.classList.add("wide");
  item.append(...rangeBar({ ...cgm, unit }));
  const facts = element("dl", { class: "facts" });
  const fact = (label, value) => facts.append(element("dt", {}, label), element("dd", {}, value));
  fact(t("cgm.mean"), `${number(glucose("mean"), unit === "mmol/L" ? 1 : 0)} ${unit}`);
  fact(t("cgm.gmi"), `${number(cgm.gmi_percent, 1)} %`);
  fact(t("cgm.cv"), `${number(cgm.cv_percent, 1)} %`);
  fact(t("cgm.active"), `${number(cgm.active_percent, 0)} %`);
  fact(t("cgm.hypos"), `${cgm.hypo_events_level1} / ${cgm.hypo_events_level2}`);
  item.append(facts);
  item.append(element("p", { class: "detail" }, t(cgm.sufficient ? "summary.sufficient" : "summary.insufficient")));
  return item;
}

/** Tiles of the period's summaries (GET .../summaries). */
export function renderSummaries(list, s) {
  list.replaceChildren();
  const unit = s.glucose_unit;
  const g = unit === "mmol/L" ? 1 : 0;
  const readings = (n) => t("summary.readings", { n });
  if (s.cgm) list.append(cgmTile(s.cgm, unit));
  if (s.spot_glucose) {
    const all = s.spot_glucose.overall;
    const mean = unit === "mmol/L" ? all.mean_mmol_l : all.mean_mg_dl;
    list.append(
      tile("spot_glucose", t("spot.title"), number(mean, g), unit, [
        `${t("spot.inRange", glucoseRanges(unit))} : ${number(all.in_range_70_180_percent, 0)} %`,
        readings(all.readings),
      ]),
    );
  }
  if (s.blood_pressure) {
    const bp = s.blood_pressure;
    const pair = (m) => (m.readings ? `${number(m.systolic_mm_hg)}/${number(m.diastolic_mm_hg)}` : "–");
    const notes = [
      `${t("bp.morning")} : ${pair(bp.morning)} · ${t("bp.evening")} : ${pair(bp.evening)}`,
      readings(bp.readings),
    ];
    if (bp.hypertensive) notes.push(t("bp.high"));
    list.append(
      tile("blood_pressure", t("bp.title"), `${number(bp.mean_systolic_mm_hg)}/${number(bp.mean_diastolic_mm_hg)}`, "mm[Hg]", notes),
    );
  }
  if (s.weight) {
    const w = s.weight;
    const trend = w.trend_kg_per_week === null ? "–" : t("weight.perWeek", { value: number(w.trend_kg_per_week, 2) });
    list.append(tile("weight", t("weight.title"), number(w.latest_kg, 1), "kg", [`${t("weight.trend")} : ${trend}`, readings(w.readings)]));
  }
  if (s.spo2) {
    const o = s.spo2;
    list.append(
      tile("spo2", t("spo2.title"), number(o.mean_percent, 0), "%", [
        `${t("spo2.min")} : ${number(o.min_percent, 0)} %`,
        `${t("spo2.below")} : ${number(o.below_threshold_percent, 1)} %`,
      ]),
    );
  }
  if (s.heart_rate) {
    const h = s.heart_rate;
    list.append(
      tile("heart_rate", t("hr.title"), number(h.resting_per_min ?? h.mean_per_min), "/min", [
        `${t(h.resting_per_min === null ? "charts.mean" : "hr.resting")}`,
        `${t("hr.range")} : ${number(h.min_per_min)} – ${number(h.max_per_min)} /min`,
      ]),
    );
  }
  if (s.temperature) {
    const c = s.temperature;
    list.append(
      tile("body_temperature", t("temp.title"), number(c.max_celsius, 1), "Cel", [
        t("temp.max"),
        `${t("temp.episodes")} : ${c.fever_episodes.length}`,
      ]),
    );
  }
  if (!list.children.length) list.append(element("li", { class: "empty" }, t("summary.none")));
}

/** The alerts list (GET .../alerts), in the page's language. */
export function renderAlerts(list, alerts, unit) {
  list.replaceChildren();
  for (const alert of alerts.items) {
    const never = alert.code === "device.silent" && alert.value === null;
    const key = `alert.${alert.code}${never ? ".never" : ""}`;
    const decimals = alert.code === "weight.rapid_gain" || alert.code.startsWith("cgm.") || alert.code.startsWith("temperature") ? 1 : 0;
    const text = t(key, {
      ...glucoseRanges(unit),
      value: number(alert.value, decimals),
      threshold: number(alert.threshold, decimals),
      device: alert.device_id ?? "",
    });
    const item = element("li", { class: "alert", "data-code": alert.code }, text === key ? alert.message : text);
    list.append(item);
  }
  if (!alerts.items.length) list.append(element("li", { class: "empty" }, t("alerts.none")));
}

/** Documents filed into the health space (GET .../documents): `null` when they could not be
 * read, none while that API is absent (404). */
export function renderDocuments(list, documents, api, zone, onError) {
  list.replaceChildren();
  if (documents === null) {
    list.append(element("li", { class: "empty" }, t("documents.unavailable")));
    return;
  }
  for (const doc of documents) {
    const item = element("li", { class: "document" });
    item.append(element("h3", {}, doc.title));
    const period = doc.period ? t("documents.period", { from: day(doc.period.start, zone), to: day(doc.period.end, zone) }) : "";
    item.append(element("p", { class: "detail" }, [doc.type, period, doc.created ? dateTime(doc.created, zone) : "", doc.status].filter(Boolean).join(" · ")));
    if (doc.hidden_from_professionals) item.append(element("p", { class: "badge" }, t("documents.hidden")));
    if (doc.content_url) {
      const open = element("button", { type: "button" }, t("documents.open"));
      open.addEventListener("click", () =>
        api
          .url(doc.content_url, { raw: true })
          .then(async (response) => {
            const link = element("a", { href: URL.createObjectURL(await response.blob()), download: `${doc.id}.pdf` });
            link.click();
            URL.revokeObjectURL(link.href);
          })
          .catch(onError),
      );
      item.append(open);
    }
    list.append(item);
  }
  if (!documents.length) list.append(element("li", { class: "empty" }, t("documents.none")));
}

/** Consent: objections and document visibility (the patient's own; `onChange` reloads,
 * `onError` shows what failed). */
export function renderConsent(box, consent, api, zone, onChange, onError) {
  const act = (request) => request.then(() => onChange(t("consent.saved"))).catch(onError);
  box.replaceChildren();
  if (!consent) {
    box.append(element("p", { class: "empty" }, t("consent.onlyPatient")));
    return;
  }
  const visibility = element("p", { class: "check" });
  const check = element("input", { type: "checkbox", id: "visibility" });
  check.checked = consent.hidden_from_professionals;
  check.addEventListener("change", () =>
    act(api.send("PUT", "document-visibility", { hidden_from_professionals: check.checked })),
  );
  visibility.append(check, element("label", { for: "visibility" }, t("consent.visibility")));
  box.append(visibility);
  box.append(element("h3", {}, t("consent.objections")));
  const list = element("ul", { class: "list" });
  for (const objection of consent.objections) {
    const kind = t(`consent.${objection.source_kind}`);
    const when = objection.withdrawn
      ? t("consent.withdrawn", { date: day(objection.withdrawn, zone) })
      : t("consent.since", { date: day(objection.since, zone) });
    const item = element("li", {}, `${kind} ${objection.source_id} — ${when} `);
    if (!objection.withdrawn) {
      const withdraw = element("button", { type: "button" }, t("consent.withdraw"));
      withdraw.addEventListener("click", () => act(api.send("DELETE", `objections/${objection.id}`)));
      item.append(withdraw);
    }
    list.append(item);
  }
  if (!consent.objections.length) list.append(element("li", { class: "empty" }, t("consent.noObjection")));
  box.append(list);
  const form = element("form", { class: "inline-form" });
  form.append(element("h3", {}, t("consent.add")));
  const kind = element("select", { id: "objection-kind", name: "kind" });
  for (const value of ["device", "provider"]) kind.append(element("option", { value }, t(`consent.${value}`)));
  const source = element("input", { id: "objection-source", name: "source", required: "", maxlength: "128", autocomplete: "off" });
  form.append(
    element("label", { for: "objection-kind" }, t("consent.kind")),
    kind,
    element("label", { for: "objection-source" }, t("consent.sourceId")),
    source,
    element("button", { type: "submit" }, t("consent.submit")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!source.value.trim()) return source.focus();
    return act(api.send("POST", "objections", { source_kind: kind.value, source_id: source.value.trim() }));
  });
  box.append(form);
}

/** Rows of the access history (a FHIR searchset Bundle of AuditEvents). */
export function appendAudit(body, bundle, zone) {
  for (const entry of bundle.entry ?? []) {
    const event = entry.resource;
    const agent = event.agent?.[0] ?? {};
    const row = body.insertRow();
    row.append(element("th", { scope: "row" }, dateTime(event.recorded, zone)));
    row.append(element("td", {}, agent.who?.identifier?.value ?? "–"));
    const role = agent.role?.[0]?.text ?? "";
    row.append(element("td", {}, t(`role.${role}`) === `role.${role}` ? role : t(`role.${role}`)));
    row.append(element("td", {}, event.subtype?.[0]?.code ?? ""));
    const allowed = event.outcome === "0";
    row.append(element("td", { class: allowed ? "allowed" : "refused" }, t(allowed ? "audit.allowed" : "audit.refused")));
  }
  return (bundle.link ?? []).find((l) => l.relation === "next")?.url ?? null;
}
