// The page: sign-in, jobs with live progress, the new-snapshot form, the
// snapshot view and the plugins admin. Hash routes (#/jobs, #/new,
// #/snapshot/<jobId>, #/plugins) so the server serves one page.

import {
  ApiError,
  call,
  claimsOf,
  download,
  forgetToken,
  getJson,
  saveToken,
  savedToken,
  setUnauthorizedHandler,
  subscribe,
} from "./api.js";
import { cumulativeChart, histogramChart } from "./charts.js";
import { count, dateTime, duration, groupDigits, percent, pointInTime } from "./format.js";

const $ = (id) => document.getElementById(id);

function h(name, attributes = {}, ...children) {
  const node = document.createElement(name);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  node.append(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

function showError(id, message) {
  const node = $(id);
  node.textContent = message ?? "";
  node.hidden = !message;
}

// ---------------------------------------------------------------- session

let session = null; // {wallet, roles, admin, expires}
let stopEvents = null;

function signedIn(token) {
  session = claimsOf(token);
  $("who").textContent = `${session.wallet || "(no wallet id)"}${session.admin ? " · admin" : ""}`;
  $("who").title = session.expires ? `Token expires ${dateTime(session.expires.getTime())}` : "";
  $("session").hidden = false;
  $("nav").hidden = false;
  stopEvents?.();
  stopEvents = subscribe(onEvent, onSocketState);
}

function signOut(message) {
  forgetToken();
  session = null;
  stopEvents?.();
  stopEvents = null;
  jobs.clear();
  $("jobs").replaceChildren();
  $("session").hidden = true;
  $("nav").hidden = true;
  showError("jwt-error", message);
  location.hash = "#/signin";
  route();
}

// A 401 once signed in: the token expired or was revoked.
setUnauthorizedHandler((message) => session && signOut(`Signed out: ${message}`));

$("sign-out").addEventListener("click", () => signOut());

$("signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const token = $("jwt").value.trim();
  const field = $("jwt");
  showError("jwt-error", "");
  field.removeAttribute("aria-invalid");
  try {
    if (!token) throw new Error("Paste a token first.");
    claimsOf(token);
    // Ask the server: only it can tell whether the signature is good.
    await getJson("/snapshots?limit=1", { token });
  } catch (e) {
    field.setAttribute("aria-invalid", "true");
    showError("jwt-error", e instanceof ApiError ? `The server refused this token: ${e.message}` : e.message);
    field.focus();
    return;
  }
  saveToken(token);
  $("jwt").value = "";
  signedIn(token);
  location.hash = "#/jobs";
});

// ---------------------------------------------------------------- routing

const VIEWS = ["signin", "jobs", "new", "snapshot", "plugins"];

function route() {
  const [, name = "jobs", arg] = location.hash.split("/");
  const view = !savedToken() ? "signin" : VIEWS.includes(name) && name !== "signin" ? name : "jobs";
  for (const v of VIEWS) $(`view-${v}`).hidden = v !== view;
  for (const link of document.querySelectorAll("[data-nav]")) {
    if (link.dataset.nav === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (view === "jobs") loadJobs();
  if (view === "snapshot") loadSnapshot(decodeURIComponent(arg ?? ""));
  if (view === "plugins") loadPlugins();
  const heading = $(`view-${view}`).querySelector("h1");
  document.title = `${heading.textContent} · snapshot-host`;
  // Move focus to the new view for keyboard and screen-reader users.
  if (document.activeElement !== $("jwt")) $("main").focus({ preventScroll: true });
}

window.addEventListener("hashchange", route);

// ---------------------------------------------------------------- jobs

/** jobId → {record, samples: [[ms, progress, holdersSoFar]], node} */
const jobs = new Map();
let nextCursor = null;

const FINISHED = new Set(["completed", "failed", "cancelled"]);

function statusFromEvent(type, payload) {
  switch (type) {
    case "snapshots_waiting":
      return "waiting";
    case "snapshots_active":
    case "snapshots_progress":
      return "active";
    case "snapshots_completed":
      return "completed";
    case "snapshots_failed":
      return payload.error === "cancelled" ? "cancelled" : "failed";
    default:
      return null;
  }
}

function announce(text) {
  $("announce").textContent = text;
}

/**
 * Holders/s (or %/s when the plugin reports no holders) and seconds left
 * from the progress samples of the current run.
 */
function rateAndEta(entry) {
  const samples = entry.samples;
  if (samples.length < 2) return null;
  const [t0, p0, h0] = samples[0];
  const [t1, p1, h1] = samples[samples.length - 1];
  const seconds = (t1 - t0) / 1000;
  if (seconds <= 0) return null;
  const percentRate = (p1 - p0) / seconds;
  const eta = percentRate > 0 ? (100 - p1) / percentRate : null;
  if (h1 !== null && h0 !== null && h1 > h0) {
    return { rate: `${count(Math.round((h1 - h0) / seconds))} holders/s`, eta };
  }
  if (percentRate > 0) return { rate: `${percentRate.toFixed(1)} %/s`, eta };
  return null;
}

/** What the Holders field says: the final count, or the count so far. */
function holdersText(r, finished) {
  if (r.holderCount !== null && r.holderCount !== undefined) return count(r.holderCount);
  if (r.holdersSoFar !== null && r.holdersSoFar !== undefined) {
    return finished ? `${count(r.holdersSoFar)} collected` : `${count(r.holdersSoFar)} so far`;
  }
  return finished ? "—" : r.status === "waiting" ? "—" : "none yet";
}

function jobNode(entry) {
  const r = entry.record;
  const id = r.jobId;
  const finished = FINISHED.has(r.status);
  const progressText =
    r.status === "completed"
      ? "100 %"
      : r.status === "waiting"
        ? "queued"
        : finished
          ? `stopped at ${r.progress} %`
          : `${r.progress} %`;
  const timing = r.status === "active" ? rateAndEta(entry) : null;
  const details = [
    ["Holders", holdersText(r, finished)],
    ["Rate", timing ? timing.rate : "—"],
    ["ETA", timing && timing.eta !== null ? duration(timing.eta) : r.status === "waiting" ? "waiting for a worker" : "—"],
    ["Started", dateTime(r.startedAt ?? r.createdAt)],
  ];
  if (r.resolvedAt) details.push(["Point in time", pointInTime(r.resolvedAt, r.chain)]);
  const actions = [];
  if (!finished) {
    actions.push(h("button", { type: "button", class: "secondary", onclick: () => cancelJob(id) }, "Cancel"));
  }
  if (r.status === "completed") {
    actions.push(
      h("a", { class: "button", href: `#/snapshot/${encodeURIComponent(id)}` }, "Open snapshot"),
      h("button", { type: "button", class: "secondary", onclick: () => save(id, "json") }, "Download JSON"),
      h("button", { type: "button", class: "secondary", onclick: () => save(id, "csv") }, "Download CSV"),
    );
  }
  return h(
    "li",
    { class: `job status-${r.status}`, "data-job": id, "aria-labelledby": `job-${id}-title` },
    h(
      "div",
      { class: "job-head" },
      h("h2", { id: `job-${id}-title` }, r.tokenId, h("span", { class: "muted" }, ` ${r.chain}${r.network ? ` · ${r.network}` : ""}`)),
      h("span", { class: `badge ${r.status}` }, r.status),
    ),
    h(
      "div",
      { class: "progress-row" },
      h("progress", {
        max: 100,
        value: r.status === "completed" ? 100 : r.progress,
        "aria-label": `Progress of ${r.tokenId}`,
        "aria-valuetext": progressText,
      }),
      h("span", { class: "pct" }, progressText),
    ),
    h("dl", { class: "job-facts" }, details.map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, v)))),
    r.error && r.status !== "cancelled" ? h("p", { class: "error" }, r.error) : null,
    r.status === "completed" ? cidLine(r) : null,
    actions.length ? h("div", { class: "actions" }, actions) : null,
    h("p", { class: "muted small" }, `Job ${id}`),
  );
}

function cidLine(r) {
  const items = [];
  for (const [label, cid, url] of [
    ["JSON", r.ipfsCid, r.ipfsUrl],
    ["CSV", r.csvCid, r.csvUrl],
  ]) {
    if (!cid) continue;
    items.push(
      h(
        "li",
        {},
        `${label} CID `,
        url ? h("a", { href: url, rel: "noopener noreferrer", target: "_blank" }, h("code", {}, cid)) : h("code", {}, cid),
      ),
    );
  }
  if (!items.length) return null;
  const where = {
    local: "kept on this server only (no IPFS node configured)",
    pinned: "pinned on IPFS",
    pending: "waiting to be uploaded to IPFS",
    failed: "the IPFS node named it differently; the local copy stays",
  }[r.ipfsStatus];
  return h(
    "div",
    { class: "cids" },
    h("ul", {}, items),
    where ? h("p", { class: "muted small" }, `Documents ${where}${r.ipfsUrl ? "" : "; no public gateway is configured"}.`) : null,
  );
}

function render(entry) {
  const node = jobNode(entry);
  const focused = entry.node?.contains(document.activeElement) ? document.activeElement.textContent : null;
  if (entry.node?.isConnected) entry.node.replaceWith(node);
  entry.node = node;
  // Keep keyboard focus on the same button across re-renders.
  if (focused) {
    [...node.querySelectorAll("button, a")].find((b) => b.textContent === focused)?.focus();
  }
  return node;
}

function upsert(record, { prepend = false } = {}) {
  let entry = jobs.get(record.jobId);
  if (!entry) {
    entry = { record, samples: [], node: null };
    jobs.set(record.jobId, entry);
    const list = $("jobs");
    const node = render(entry);
    if (prepend) list.prepend(node);
    else list.append(node);
  } else {
    // Answers and events can cross: a job never goes back from finished,
    // and its progress never goes down.
    const before = entry.record;
    const merged = { ...before, ...record };
    if (FINISHED.has(before.status) && !FINISHED.has(merged.status)) {
      merged.status = before.status;
      merged.progress = before.progress;
    } else if (!FINISHED.has(merged.status)) {
      merged.progress = Math.max(before.progress ?? 0, merged.progress ?? 0);
      if (before.holdersSoFar != null || merged.holdersSoFar != null) {
        merged.holdersSoFar = Math.max(before.holdersSoFar ?? 0, merged.holdersSoFar ?? 0);
      }
    }
    entry.record = merged;
    render(entry);
  }
  $("jobs-empty").hidden = jobs.size > 0;
  return entry;
}

async function loadJobs(more = false) {
  showError("jobs-error", "");
  try {
    const query = more && nextCursor ? `?limit=20&cursor=${encodeURIComponent(nextCursor)}` : "?limit=20";
    const page = await getJson(`/snapshots${query}`);
    if (!more) {
      jobs.clear();
      $("jobs").replaceChildren();
    }
    for (const item of page.items) upsert(item);
    nextCursor = page.nextCursor;
    $("jobs-more").hidden = !nextCursor;
    $("jobs-empty").hidden = jobs.size > 0;
  } catch (e) {
    if (e.status !== 401) showError("jobs-error", `Could not load your snapshots: ${e.message}`);
  }
}

$("jobs-more").addEventListener("click", () => loadJobs(true));

async function cancelJob(id) {
  try {
    const answer = await (await call("DELETE", `/snapshots/${encodeURIComponent(id)}`)).json();
    upsert({ jobId: id, status: answer.status });
    announce(answer.status === "cancelled" ? "Snapshot cancelled." : "Cancelling: the snapshot stops within a moment.");
  } catch (e) {
    showError("jobs-error", `Could not cancel: ${e.message}`);
  }
}

async function save(id, format) {
  try {
    const name = await download(`/snapshots/${encodeURIComponent(id)}/download?format=${format}`, `snapshot.${format}`);
    announce(`Downloading ${name}.`);
  } catch (e) {
    const target = $("view-snapshot").hidden ? "jobs-error" : "snapshot-error";
    showError(target, `Download failed: ${e.message}`);
  }
}

async function refreshJob(id) {
  try {
    const record = await getJson(`/snapshots/${encodeURIComponent(id)}`);
    upsert(record, { prepend: !jobs.has(id) });
  } catch {
    // The next event or reload shows it.
  }
}

function onEvent(event) {
  const { type, payload } = event;
  if (type === "plugins_changed") {
    if (!$("view-plugins").hidden) loadPlugins(`Plugin ${payload.name} ${payload.action}.`);
    return;
  }
  const status = statusFromEvent(type, payload ?? {});
  if (!status || !payload?.jobId) return;
  const id = payload.jobId;
  const entry = jobs.get(id);
  if (!entry) {
    // A job from another tab or client: fetch its full record.
    refreshJob(id);
    return;
  }
  const before = entry.record.status;
  const progress = typeof payload.progress === "number" ? payload.progress : entry.record.progress;
  const holdersSoFar = typeof payload.holdersSoFar === "number" ? payload.holdersSoFar : entry.record.holdersSoFar ?? null;
  if (status === "active") {
    entry.samples.push([Date.now(), progress, holdersSoFar]);
    if (entry.samples.length > 20) entry.samples.splice(1, 1);
  }
  upsert({
    jobId: id,
    status,
    progress: status === "completed" ? 100 : progress,
    holdersSoFar,
    error: payload.error ?? entry.record.error,
  });
  if (before !== status) {
    announce(`${entry.record.tokenId}: ${status}${status === "failed" && payload.error ? ` (${payload.error})` : ""}.`);
  }
  // The full record has the CIDs, counts and times.
  if (FINISHED.has(status)) refreshJob(id);
}

function onSocketState(state) {
  $("live-state").textContent = {
    connecting: "Live updates: connecting…",
    open: "Live updates: on",
    closed: "Live updates: reconnecting…",
  }[state];
  $("live-state").dataset.state = state;
  // Whatever changed while disconnected: reload once connected.
  if (state === "open" && !$("view-jobs").hidden && jobs.size) loadJobs();
}

// ---------------------------------------------------------------- new snapshot

const FIELDS = {
  tokenId: "token-id",
  chain: "chain",
  network: "network",
  at: "at",
  minBalance: "min-balance",
};

function fieldError(field, message) {
  const id = FIELDS[field];
  showError(`${id}-error`, message);
  const input = field === "at" ? document.querySelector('input[name="atKind"]:checked') : $(id);
  if (message) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
}

/** The field an API message is about, from its wording; null for the form. */
function fieldOf(message) {
  const m = message.toLowerCase();
  if (/no chain recognises|token id/.test(m)) return "tokenId";
  if (/min[_ ]?balance|minbalance/.test(m)) return "minBalance";
  if (/point in time|before 1970|timestamp|ledger index|consensus time|rfc ?3339/.test(m)) return "at";
  if (/network/.test(m)) return "network";
  if (/chain|plugin/.test(m)) return "chain";
  if (/token/.test(m)) return "tokenId";
  return null;
}

for (const radio of document.querySelectorAll('input[name="atKind"]')) {
  radio.addEventListener("change", () => {
    const kind = document.querySelector('input[name="atKind"]:checked').value;
    $("at-date-field").hidden = kind !== "date";
    $("at-raw-field").hidden = kind !== "raw";
  });
}

$("new-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  for (const field of Object.keys(FIELDS)) fieldError(field, "");
  showError("new-error", "");
  const tokenId = $("token-id").value.trim();
  const body = {};
  const chain = $("chain").value;
  const network = $("network").value.trim();
  const minBalance = $("min-balance").value.trim();
  if (chain) body.chain = chain;
  if (network) body.network = network;
  if (minBalance) body.minBalance = minBalance;
  const kind = document.querySelector('input[name="atKind"]:checked').value;
  let invalid = null;
  if (kind === "date") {
    const value = $("at-date").value;
    const date = value ? new Date(value) : null;
    if (!date || Number.isNaN(date.getTime())) {
      fieldError("at", "Pick a date and time, or choose Latest.");
      invalid ??= "at-date";
    } else {
      body.at = date.toISOString().replace(".000Z", "Z");
    }
  } else if (kind === "raw") {
    const value = $("at-raw").value.trim();
    if (!value) {
      fieldError("at", "Enter a ledger point, or choose Latest.");
      invalid ??= "at-raw";
    } else {
      body.at = value;
    }
  }
  if (!tokenId) {
    fieldError("tokenId", "Enter the token id.");
    invalid = "token-id";
  }
  if (invalid) {
    $(invalid).focus();
    return;
  }
  $("new-submit").disabled = true;
  $("new-status").textContent = "Checking the token with the ledger…";
  try {
    const answer = await (await call("POST", `/snapshots/generate/${encodeURIComponent(tokenId)}`, { body })).json();
    $("new-status").textContent = "";
    $("new-form").reset();
    $("at-date-field").hidden = true;
    $("at-raw-field").hidden = true;
    location.hash = "#/jobs";
    await refreshJob(answer.jobId);
    announce(`Snapshot of ${tokenId} queued.`);
    jobs.get(answer.jobId)?.node?.querySelector("h2")?.scrollIntoView({ block: "nearest" });
  } catch (e) {
    $("new-status").textContent = "";
    const field = e instanceof ApiError && e.status === 400 ? fieldOf(e.message) : null;
    if (field) {
      fieldError(field, e.message);
      (field === "at" ? document.querySelector('input[name="atKind"]:checked') : $(FIELDS[field])).focus();
    } else {
      showError("new-error", e.message);
      $("new-error").focus?.();
    }
  } finally {
    $("new-submit").disabled = false;
  }
});

// ---------------------------------------------------------------- snapshot view

let shownSnapshot = null;

async function loadSnapshot(id) {
  shownSnapshot = id;
  showError("snapshot-error", "");
  $("snapshot-body").hidden = true;
  $("snapshot-title").textContent = "Snapshot";
  $("snapshot-status").textContent = "Loading…";
  const top = $("top-count").value;
  try {
    const [record, summary] = await Promise.all([
      getJson(`/snapshots/${encodeURIComponent(id)}`),
      getJson(`/snapshots/${encodeURIComponent(id)}/summary?top=${top}`).catch((e) => e),
    ]);
    if (shownSnapshot !== id) return;
    if (summary instanceof Error) {
      if (summary.status === 409) {
        $("snapshot-status").textContent = "";
        showError("snapshot-error", `This snapshot is ${record.status}: there is nothing to show yet.`);
        return;
      }
      throw summary;
    }
    showSnapshot(record, summary);
  } catch (e) {
    $("snapshot-status").textContent = "";
    showError(
      "snapshot-error",
      e.status === 404 ? "No such snapshot among yours." : `Could not load the snapshot: ${e.message}`,
    );
  }
}

function showSnapshot(record, s) {
  const symbol = s.token.symbol;
  $("snapshot-title").textContent = `${s.token.name || s.tokenId} (${s.tokenId})`;
  $("snapshot-status").textContent = "";
  const facts = [
    ["Chain", `${s.chain} · ${s.network}`],
    ["Holders", count(s.holderCount)],
    ["Point in time", pointInTime(s.resolvedAt, s.chain)],
    ["Total", `${groupDigits(s.totalBalanceFormatted)} ${symbol}`],
    ["Total (smallest unit)", groupDigits(s.totalBalance)],
    ["Decimals", String(s.token.decimals)],
  ];
  if (s.token.totalSupply) facts.push(["Ledger's total supply", groupDigits(s.token.totalSupply)]);
  if (s.minBalance) facts.push(["Minimum balance", groupDigits(s.minBalance)]);
  if (s.negativeCount) facts.push(["Negative balances", count(s.negativeCount)]);
  $("snapshot-facts").replaceChildren(...facts.map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, v))));
  $("snapshot-actions").replaceChildren(
    h("button", { type: "button", onclick: () => save(record.jobId, "csv") }, "Download CSV"),
    h("button", { type: "button", class: "secondary", onclick: () => save(record.jobId, "json") }, "Download JSON"),
    cidLine(record) ?? "",
  );
  cumulativeChart($("chart-cumulative"), s.cumulative);
  histogramChart($("chart-histogram"), s.histogram, symbol);
  const rows = s.top.map((t) =>
    h(
      "tr",
      {},
      h("td", {}, String(t.rank)),
      h("td", {}, h("code", {}, t.account)),
      h("td", { class: "num", title: `${t.balance} in the smallest unit` }, groupDigits(t.balanceFormatted)),
      h("td", { class: "num", title: t.share }, percent(t.share, 4)),
    ),
  );
  if (!rows.length) rows.push(h("tr", {}, h("td", { colspan: 4, class: "empty" }, "This snapshot has no holders.")));
  $("top-table").tBodies[0].replaceChildren(...rows);
  $("top-title").textContent =
    s.holderCount > s.top.length ? `Top ${count(s.top.length)} of ${count(s.holderCount)} holders` : "All holders";
  $("snapshot-body").hidden = false;
}

$("top-count").addEventListener("change", () => shownSnapshot && loadSnapshot(shownSnapshot));

// ---------------------------------------------------------------- plugins

async function loadPlugins(status = "") {
  const admin = session?.admin;
  $("plugins-denied").hidden = admin;
  $("plugins-admin").hidden = !admin;
  if (!admin) return;
  showError("plugins-error", "");
  $("plugins-status").textContent = status;
  try {
    const { plugins } = await getJson("/plugins");
    $("plugins-empty").hidden = plugins.length > 0;
    $("plugins-table").tBodies[0].replaceChildren(...plugins.map(pluginRow));
  } catch (e) {
    showError(
      "plugins-error",
      e.status === 403 ? `The server refused: ${e.message}` : `Could not load the plugins: ${e.message}`,
    );
  }
}

function pluginRow(p) {
  const c = p.capabilities;
  const hosts = c.grantedHosts ? `${c.allowedHosts.join(", ")} (granted: ${c.grantedHosts.join(", ")})` : c.allowedHosts.join(", ");
  return h(
    "tr",
    {},
    h(
      "td",
      {},
      h("strong", {}, p.name),
      ` ${p.version}`,
      h("div", { class: "muted small" }, `${p.origin}${p.file ? ` · ${p.file}` : ""} · WIT ${p.wit} · ${count(p.jobsRun)} ${p.jobsRun === 1 ? "job" : "jobs"}`),
    ),
    h("td", {}, p.chains.join(", "), h("div", { class: "muted small" }, p.networks.join(", "))),
    h(
      "td",
      { class: "small" },
      h("div", {}, `hosts: ${hosts || "none"}${c.anyHostGranted ? " (any host granted)" : ""}`),
      h("div", {}, `${c.memoryMb} MiB · ${c.cpuSeconds} s CPU per call`),
      c.rateLimits.length
        ? h("div", {}, `limits: ${c.rateLimits.map((l) => `${l.host} ${l.requestsPerSecond}/s ×${l.maxConcurrency}`).join(", ")}`)
        : null,
    ),
    h("td", {}, h("code", { class: "hash", title: p.sha256 }, p.sha256)),
    h(
      "td",
      {},
      p.origin === "file"
        ? h("button", { type: "button", class: "danger", onclick: () => removePlugin(p.name) }, `Remove ${p.name}`)
        : h("span", { class: "muted small" }, "bundled"),
    ),
  );
}

async function removePlugin(name) {
  if (!confirm(`Remove plugin ${name}? Its file is deleted; a bundled plugin of that name serves again.`)) return;
  try {
    const answer = await (await call("DELETE", `/plugins/${encodeURIComponent(name)}`)).json();
    loadPlugins(`Plugin ${name} ${answer.action}${answer.serving ? `; now serving ${answer.serving.name ?? ""} ${answer.serving.version ?? ""}` : ""}.`);
  } catch (e) {
    showError("plugins-error", `Could not remove ${name}: ${e.message}`);
  }
}

$("upload-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("upload-error", "");
  const name = $("plugin-name").value.trim();
  const file = $("plugin-file").files[0];
  if (!name || !/^[a-z0-9][a-z0-9_-]*$/.test(name)) {
    showError("upload-error", "Enter the plugin's name (lowercase letters, digits, - and _).");
    $("plugin-name").focus();
    return;
  }
  if (!file) {
    showError("upload-error", "Choose a .wasm component.");
    $("plugin-file").focus();
    return;
  }
  try {
    const response = await call("PUT", `/plugins/${encodeURIComponent(name)}`, {
      body: file,
      headers: { "Content-Type": "application/wasm" },
    });
    const plugin = await response.json();
    $("upload-form").reset();
    loadPlugins(`Plugin ${plugin.name} ${plugin.version} ${response.status === 201 ? "added" : "replaced"}.`);
  } catch (e) {
    showError("upload-error", e.message);
  }
});

// ---------------------------------------------------------------- start

const token = savedToken();
if (token) {
  try {
    signedIn(token);
  } catch {
    forgetToken();
  }
}
route();
