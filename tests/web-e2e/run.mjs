// Drives the host's web page in the system Chromium (playwright-core, no
// bundled browser) through what a user does: sign in, take a snapshot,
// watch its progress bar reach 100 %, open the snapshot view and download
// the CSV; then a phone-width look and the admin's plugins page. Saves a
// screenshot of each step in OUT_DIR.
//
// Usage: node run.mjs BASE_URL WALLET_JWT ADMIN_JWT OUT_DIR AT
// (AT: the ledger point to pin the snapshot to). Env CHROMIUM: the browser
// (default /usr/bin/chromium).
//
// Prints one JSON line {jobId, csv, screenshots, progressSeen, holders} and
// exits 0; on any failure prints the reason to stderr (with a screenshot
// `failure.png`) and exits 1. Every wait is bounded.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [base, walletToken, adminToken, outDir, at] = process.argv.slice(2);
if (!base || !walletToken || !adminToken || !outDir || !at) {
  console.error("usage: node run.mjs BASE_URL WALLET_JWT ADMIN_JWT OUT_DIR AT");
  process.exit(2);
}
const WAIT = 90_000;
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const profile = mkdtempSync(join(tmpdir(), "web-e2e-profile-"));
const screenshots = [];
const problems = [];

const context = await chromium.launchPersistentContext(profile, {
  executablePath,
  headless: true,
  acceptDownloads: true,
  viewport: { width: 1280, height: 900 },
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
const page = context.pages()[0] ?? (await context.newPage());
page.setDefaultTimeout(WAIT);
// A CSP violation, a failed module load or an uncaught error fails the run.
// (The refusals the run provokes on purpose are logged by Chromium as
// "Failed to load resource"; those are expected.)
page.on("console", (m) => {
  if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) {
    problems.push(`console: ${m.text()}`);
  }
});
page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));

async function shot(name, options = {}) {
  const path = join(outDir, `${name}.png`);
  await page.screenshot({ path, fullPage: true, ...options });
  screenshots.push(path);
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function signIn(token) {
  await page.getByLabel("Access token (JWT)").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("#view-jobs").waitFor({ state: "visible" });
}

let result;
try {
  // 1. Sign in.
  await page.goto(`${base}/`);
  await page.locator("#view-signin").waitFor({ state: "visible" });
  await page.getByLabel("Access token (JWT)").fill("not-a-token");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("#jwt-error").waitFor({ state: "visible" });
  await shot("01-sign-in-error");
  await signIn(walletToken);
  await page.locator("#jobs-empty").waitFor({ state: "visible" });
  await page.locator('#live-state[data-state="open"]').waitFor();
  await shot("02-signed-in-no-jobs");

  // 2. Start a snapshot: first a token the ledger refuses (the API's
  // message shows under the field), then the real one.
  await page.getByRole("link", { name: "New snapshot", exact: true }).click();
  await page.getByLabel("Token id").fill("0.0.abc");
  await page.getByRole("button", { name: "Take snapshot" }).click();
  await page.locator("#token-id-error").waitFor({ state: "visible" });
  const refusal = await page.locator("#token-id-error").textContent();
  check(refusal.length > 0, "the refusal has a message");
  check(
    (await page.getByLabel("Token id").getAttribute("aria-invalid")) === "true",
    "the refused field is marked invalid",
  );
  await shot("03-new-snapshot-inline-error");
  await page.getByLabel("Token id").fill("0.0.5000");
  await page.getByLabel("Ledger index or timestamp").check();
  await page.getByLabel("Ledger point").fill(at);
  await shot("04-new-snapshot-filled");
  await page.getByRole("button", { name: "Take snapshot" }).click();

  // 3. The job appears; record every value its progress bar shows until 100.
  const job = page.locator("li.job").first();
  await job.waitFor({ state: "visible" });
  const jobId = await job.getAttribute("data-job");
  await page.evaluate((id) => {
    window.__progressSeen = [];
    const sample = () => {
      const bar = document.querySelector(`li[data-job="${id}"] progress`);
      if (!bar) return;
      const value = Number(bar.getAttribute("value"));
      const seen = window.__progressSeen;
      if (seen[seen.length - 1] !== value) seen.push(value);
    };
    sample();
    new MutationObserver(sample).observe(document.getElementById("jobs"), {
      subtree: true,
      childList: true,
      attributes: true,
    });
  }, jobId);
  await shot("05-job-running");
  const selector = `li[data-job="${jobId}"]`;
  await page.waitForFunction(
    (s) => document.querySelector(`${s} progress`)?.getAttribute("value") === "100",
    selector,
    { timeout: WAIT, polling: 100 },
  );
  await page.locator(`${selector} .badge.completed`).waitFor();
  await page.locator(`${selector} .cids code`).first().waitFor();
  const progressSeen = await page.evaluate(() => window.__progressSeen);
  await shot("06-job-completed");

  // 4. The snapshot view.
  await page.locator(selector).getByRole("link", { name: "Open snapshot" }).click();
  await page.locator("#snapshot-body").waitFor({ state: "visible" });
  await page.locator("#chart-cumulative svg").waitFor();
  await page.locator("#chart-histogram svg").waitFor();
  const facts = await page.locator("#snapshot-facts").innerText();
  const rows = await page.locator("#top-table tbody tr").count();
  check(rows > 0, "the top holders table has rows");
  await shot("07-snapshot-view");

  // 5. Download the CSV from the snapshot view.
  const [csvDownload] = await Promise.all([
    page.waitForEvent("download", { timeout: WAIT }),
    page.locator("#snapshot-actions").getByRole("button", { name: "Download CSV" }).click(),
  ]);
  const csv = join(outDir, "downloaded.csv");
  await csvDownload.saveAs(csv);
  await shot("08-csv-downloaded");

  // 6. A phone's width.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.locator("#snapshot-body").waitFor({ state: "visible" });
  await shot("09-phone-snapshot-view");
  await page.getByRole("link", { name: "Jobs", exact: true }).click();
  await page.locator(selector).waitFor();
  await shot("10-phone-jobs");
  await page.getByRole("link", { name: "Plugins", exact: true }).click();
  await page.locator("#plugins-denied").waitFor({ state: "visible" });
  await shot("11-phone-plugins-not-admin");

  // 7. The admin's plugins page.
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.locator("#view-signin").waitFor({ state: "visible" });
  await signIn(adminToken);
  await page.getByRole("link", { name: "Plugins", exact: true }).click();
  await page.locator("#plugins-table tbody tr").first().waitFor();
  const plugins = await page.locator("#plugins-table tbody").innerText();
  check(plugins.includes("hedera"), `the plugins table lists hedera: ${plugins}`);
  await shot("12-plugins-admin");

  check(problems.length === 0, `the page reported errors: ${problems.join("; ")}`);
  result = { jobId, csv, screenshots, progressSeen, facts, rows, suggestedFilename: csvDownload.suggestedFilename() };
} catch (e) {
  await page.screenshot({ path: join(outDir, "failure.png"), fullPage: true }).catch(() => {});
  console.error(`web e2e failed: ${e.stack || e}`);
  if (problems.length) console.error(`page problems: ${problems.join("; ")}`);
}
await context.close();
rmSync(profile, { recursive: true, force: true });
if (!result) process.exit(1);
console.log(JSON.stringify(result));
