// The patient's page: sign in, then tiles, charts, the AGP, alerts, documents, consent and
// the access history of one patient, in French or English, glucose in mg/dL or mmol/L.

import { Api, ApiError, claims, clearSession, loadSession, saveSession } from "./api.js";
import { renderAgp, renderCharts, watchSizes } from "./charts.js";
import { dateTime, language, setLanguage, t } from "./i18n.js";
import * as sections from "./sections.js";

const $ = (selector) => document.querySelector(selector);
const state = { api: null, session: null, range: "week", unit: null, zone: "Europe/Paris", prefs: null, data: null };

function status(text) {
  $("#status").textContent = text;
}

function showError(error) {
  const box = $("#error");
  if (!error) {
    box.hidden = true;
    box.textContent = "";
    return;
  }
  const code = error instanceof ApiError ? error.status : 0;
  box.textContent = code === 401 || code === 403 ? t(`error.${code}`) : t("error.other", { status: code || error.message });
  box.hidden = false;
  if (code === 401) signOut(false);
}

function press(group, attribute, value) {
  for (const button of document.querySelectorAll(`[${attribute}]`)) {
    if (group.contains(button)) button.setAttribute("aria-pressed", String(button.getAttribute(attribute) === value));
  }
}

function showSignedIn(signedIn) {
  $("#sign-in").hidden = signedIn;
  $("#dashboard").hidden = !signedIn;
  for (const node of document.querySelectorAll(".signed-in-only")) node.hidden = !signedIn;
}

function signOut(clearError = true) {
  clearSession();
  state.api = null;
  state.session = null;
  showSignedIn(false);
  if (clearError) showError(null);
  $("#token").value = "";
  $("#token").focus();
}

async function optional(promise, fallback) {
  try {
    return await promise;
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 403)) return fallback;
    throw error;
  }
}

/** Everything that depends on the range, the unit or the language. */
function render() {
  const { summaries, trends, alerts, documents, consent } = state.data;
  const zone = state.zone;
  $("#who").textContent = `${t("app.signedInAs", {
    role: t(`role.${state.session.role}`),
    sub: state.session.sub,
    zone,
  })} ${state.session.role === "patient" ? "" : t("app.viewing", { patient: state.session.patient })}`;
  $("#period").textContent = t("range.shown", {
    from: dateTime(trends.period.from, zone),
    to: dateTime(trends.period.to, zone),
  });
  sections.renderLatest($("#latest"), summaries.latest, zone);
  sections.renderSummaries($("#summaries"), summaries);
  renderCharts($("#charts"), trends, zone);
  renderAgp($("#agp"), summaries.agp);
  sections.renderAlerts($("#alerts"), alerts, summaries.glucose_unit);
  sections.renderDocuments($("#documents"), documents, state.api, zone, showError);
  sections.renderConsent($("#consent"), consent, state.api, zone, (message) => reload(message), showError);
}

async function loadAudit(url) {
  const body = $("#audit tbody");
  const bundle = url ? await state.api.url(url) : await optional(state.api.get("audit", { limit: 20 }), null);
  if (!url) body.replaceChildren();
  if (!bundle) {
    const row = body.insertRow();
    row.append(sections.element("td", { colspan: "5" }, t("consent.onlyPatient")));
    $("#audit-more").hidden = true;
    return;
  }
  const next = sections.appendAudit(body, bundle, state.zone);
  if (!body.rows.length) body.insertRow().append(sections.element("td", { colspan: "5" }, t("audit.none")));
  const more = $("#audit-more");
  more.hidden = !next;
  more.dataset.next = next ?? "";
}

async function reload(message) {
  if (!state.api) return;
  status(t("app.loading"));
  document.body.setAttribute("aria-busy", "true");
  try {
    const unit = state.unit ?? undefined;
    const [summaries, trends, alerts, documents, consent] = await Promise.all([
      state.api.get("summaries", { period: state.range, unit }),
      state.api.get("trends", { period: state.range, unit }),
      state.api.get("alerts"),
      // Documents come from the health space's vault: unreachable, they never hold up the page.
      state.api.get("documents").then(
        (d) => d.items,
        (error) => (error instanceof ApiError && error.status === 404 ? [] : null),
      ),
      state.session.role === "patient" ? optional(state.api.get("consent"), null) : null,
    ]);
    state.zone = summaries.zone;
    state.unit = summaries.glucose_unit;
    press(document.body, "data-unit", state.unit);
    state.data = { summaries, trends, alerts, documents, consent };
    render();
    await loadAudit(null);
    showError(null);
    status(message ?? t("app.loaded"));
    document.body.dataset.loaded = `${state.range}:${state.unit}:${language()}`;
  } catch (error) {
    showError(error);
    status("");
  } finally {
    document.body.removeAttribute("aria-busy");
  }
}

async function start(session) {
  state.session = session;
  state.api = new Api(session.token, session.patient);
  showSignedIn(true);
  try {
    state.prefs = await state.api.get("preferences");
    if (!localStorage.getItem("hub.language")) setLanguage(state.prefs.language);
    state.unit = localStorage.getItem("hub.unit") ?? state.prefs.glucose_unit;
    press(document.body, "data-lang", language());
  } catch (error) {
    showError(error);
    return;
  }
  await reload();
  $("#main").focus();
}

async function savePreference(change) {
  localStorage.setItem(change.language ? "hub.language" : "hub.unit", change.language ?? change.glucose_unit);
  if (!state.prefs?.registered || state.session.role !== "patient") return;
  const { zone, language: lang, glucose_unit, program } = state.prefs;
  state.prefs = await optional(
    state.api.send("PUT", "preferences", { zone, language: lang, glucose_unit, program, ...change }),
    state.prefs,
  );
}

function signIn(event) {
  event.preventDefault();
  const token = $("#token").value.trim();
  let claimed;
  try {
    claimed = claims(token);
  } catch {
    showError(new Error(t("signIn.malformed")));
    return;
  }
  const patient = claimed.role === "patient" ? claimed.sub : $("#patient-id").value.trim();
  if (!patient) {
    showError(new Error(t("signIn.needPatient")));
    $("#patient-id").focus();
    return;
  }
  const session = { token, role: claimed.role, sub: claimed.sub, patient };
  saveSession(session);
  showError(null);
  start(session);
}

function wire() {
  $("#sign-in-form").addEventListener("submit", signIn);
  $("#sign-out").addEventListener("click", () => signOut());
  for (const button of document.querySelectorAll("[data-lang]")) {
    button.addEventListener("click", async () => {
      setLanguage(button.dataset.lang);
      press(document.body, "data-lang", language());
      if (state.data) render();
      if (state.api) {
        await loadAudit(null);
        await savePreference({ language: language() }).catch(showError);
      }
    });
  }
  for (const button of document.querySelectorAll("[data-unit]")) {
    button.addEventListener("click", async () => {
      state.unit = button.dataset.unit;
      await savePreference({ glucose_unit: state.unit }).catch(showError);
      await reload();
    });
  }
  for (const button of document.querySelectorAll("[data-range]")) {
    button.addEventListener("click", async () => {
      state.range = button.dataset.range;
      press($("#ranges"), "data-range", state.range);
      await reload();
    });
  }
  $("#audit-more").addEventListener("click", () => loadAudit($("#audit-more").dataset.next).catch(showError));
}

function main() {
  setLanguage(localStorage.getItem("hub.language") ?? (navigator.language.startsWith("fr") ? "fr" : "en"));
  press(document.body, "data-lang", language());
  wire();
  watchSizes();
  // A development link may carry the token in its fragment (never sent to a server).
  const fragment = new URLSearchParams(window.location.hash.slice(1));
  if (fragment.get("token")) {
    $("#token").value = fragment.get("token");
    history.replaceState(null, "", window.location.pathname);
    $("#sign-in-form").requestSubmit();
    return;
  }
  const session = loadSession();
  if (session) start(session);
  else showSignedIn(false);
}

main();
