// The API as the page uses it: the pasted JWT (session storage only),
// JSON requests with the server's own error messages, downloads, and the
// job-event WebSocket with reconnection.

const TOKEN_KEY = "snapshot-host.jwt";

/** An error answer of the API: `status` and the server's `message`. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function savedToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function saveToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/**
 * The claims of a JWT, decoded for display only (the server verifies the
 * signature); throws on a text that is not a JWT.
 */
export function claimsOf(token) {
  const parts = token.split(".");
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p)) || !parts[1]) {
    throw new Error("This is not a JWT: expected three base64url parts separated by dots.");
  }
  let json;
  try {
    const base64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new Error("The token's claims are not readable JSON.");
  }
  const roles = new Set();
  for (const value of [json.roles, json.role]) {
    if (typeof value === "string") roles.add(value);
    else if (Array.isArray(value)) value.filter((r) => typeof r === "string").forEach((r) => roles.add(r));
  }
  return {
    wallet: json.sub ?? json.walletId ?? "",
    roles: [...roles].sort(),
    admin: roles.has("admin"),
    expires: typeof json.exp === "number" ? new Date(json.exp * 1000) : null,
  };
}

let onUnauthorized = () => {};

/** Called with the server's message whenever a request answers 401. */
export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

async function errorOf(response) {
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (body && typeof body.message === "string") message = body.message;
  } catch {
    if (response.status === 408) message = "The server took too long to answer; try again.";
  }
  return new ApiError(response.status, message);
}

/**
 * `fetch` with the token; resolves to the response when it is a success,
 * throws an `ApiError` with the server's message otherwise.
 */
export async function call(method, path, { body, headers = {}, token = savedToken() } = {}) {
  const init = { method, headers: { ...headers } };
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    if (body instanceof Blob || body instanceof ArrayBuffer) {
      init.body = body;
    } else {
      init.body = JSON.stringify(body);
      init.headers["Content-Type"] = "application/json";
    }
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, "The server could not be reached. Check your connection and try again.");
  }
  if (!response.ok) {
    const error = await errorOf(response);
    if (response.status === 401) onUnauthorized(error.message);
    throw error;
  }
  return response;
}

export async function getJson(path, options) {
  return (await call("GET", path, options)).json();
}

/** Downloads `path` (with the token) and saves it under the server's file name. */
export async function download(path, fallbackName) {
  const response = await call("GET", path);
  const disposition = response.headers.get("Content-Disposition") ?? "";
  const name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? fallbackName;
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  // The click has started the download; the URL is no longer needed.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return name;
}

/**
 * Job events from `GET /snapshots/ws`, reconnecting with backoff.
 * `onEvent({type, payload})` for each message, `onState(state)` with
 * `connecting`, `open` or `closed`. Returns a function that stops it.
 */
export function subscribe(onEvent, onState) {
  let socket = null;
  let stopped = false;
  let retry = 500;
  let timer = null;
  const connect = () => {
    const token = savedToken();
    if (stopped || !token) return;
    onState("connecting");
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(`${scheme}//${location.host}/snapshots/ws?access_token=${encodeURIComponent(token)}`);
    socket.onopen = () => {
      retry = 500;
      onState("open");
    };
    socket.onmessage = (message) => {
      try {
        onEvent(JSON.parse(message.data));
      } catch (e) {
        console.error("unreadable event", e);
      }
    };
    socket.onclose = () => {
      socket = null;
      if (stopped) return;
      onState("closed");
      timer = setTimeout(connect, retry);
      retry = Math.min(retry * 2, 15_000);
    };
  };
  connect();
  return () => {
    stopped = true;
    clearTimeout(timer);
    socket?.close();
  };
}
