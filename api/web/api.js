// The hub's API, called with the signed-in bearer token (kept for this tab only).

const KEY = "hub.session";

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail || `HTTP ${status}`);
    this.status = status;
  }
}

/** The claims of a JWT (not verified here: the API verifies every call). */
export function claims(token) {
  const part = token.split(".")[1];
  if (!part) throw new Error("not a JWT");
  const base64 = part.replace(/-/g, "+").replace(/_/g, "/");
  const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
  const text = new TextDecoder().decode(Uint8Array.from(atob(padded), (c) => c.charCodeAt(0)));
  return JSON.parse(text);
}

export function saveSession(session) {
  sessionStorage.setItem(KEY, JSON.stringify(session));
}

export function loadSession() {
  const text = sessionStorage.getItem(KEY);
  return text ? JSON.parse(text) : null;
}

export function clearSession() {
  sessionStorage.removeItem(KEY);
}

export class Api {
  constructor(token, patientId) {
    this.token = token;
    this.base = `/v1/patients/${encodeURIComponent(patientId)}`;
  }

  async request(url, { method = "GET", body, raw = false } = {}) {
    const headers = { Authorization: `Bearer ${this.token}`, Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) {
      let detail = "";
      try {
        detail = (await response.json()).detail;
      } catch {
        detail = response.statusText;
      }
      throw new ApiError(response.status, detail);
    }
    if (raw) return response;
    return response.status === 204 ? null : response.json();
  }

  /** GET a patient sub-resource, `params` as query (arrays repeat the key). */
  get(path, params = {}) {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) {
      for (const item of [value].flat()) if (item !== undefined && item !== null) query.append(key, item);
    }
    const text = query.toString();
    return this.request(`${this.base}/${path}${text ? `?${text}` : ""}`);
  }

  send(method, path, body) {
    return this.request(`${this.base}/${path}`, { method, body });
  }

  /** A hub URL (a `next` link, a document's content) with the token. */
  url(url, options = {}) {
    const target = new URL(url, window.location.origin);
    if (target.origin !== window.location.origin) throw new Error("not a hub URL");
    return this.request(target.pathname + target.search, options);
  }
}
