// Drives the host's web page in the system Chromium (playwright-core, no
// bundled browser) through what a user does: sign in, take a snapshot,
// watch its holders so far and its progress bar reach 100 %, start and
// cancel a second one while the ledger holds it up, open the snapshot view and download the CSV; then a
// phone-width look and the admin's plugins page, where a bad file is
// refused and a plugin is uploaded and removed. Saves a screenshot of each
// step in OUT_DIR.
//
// Usage: node run.mjs BASE_URL WALLET_JWT ADMIN_JWT OUT_DIR AT PLUGIN BAD
// (AT: the ledger point to pin the snapshots to; PLUGIN: a .wasm component
// named `hedera` to upload; BAD: a file that is no component). Env CHROMIUM:
// the browser (default /usr/bin/chromium).
//
// The ledger is expected to hold its requests after the first few, so the
// first job stays part way through: once the page has shown its holders so
// far and the second job has been cancelled, the script prints the line
// `{"release": true}`, and its caller lets the ledger go on.
//
// Last prints one JSON line {jobId, cancelledId, csv, screenshots,
// progressSeen, holdersSeen, ...} and exits 0; on any failure prints the
// reason to stderr (with a screenshot `failure.png`) and exits 1. Every
// wait is bounded.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [base, walletToken, adminToken, outDir, at, pluginFile, badFile] = process.argv.slice(2);
if (!base || !walletToken || !adminToken || !outDir || !at || !pluginFile || !badFile) {
  console.error("usage: node run.mjs BASE_URL WALLET_JWT ADMIN_JWT OUT_DIR AT PLUGIN BAD");
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

/** Starts a snapshot of 0.0.5000 pinned to AT from the new-snapshot form. */
async function startSnapshot() {
  await page.getByRole("link", { name: "New snapshot", exact: true }).click();
  await page.getByLabel("Token id").fill("0.0.5000");
  await page.getByLabel("Ledger index or timestamp").check();
  await page.getByLabel("Ledger point").fill(at);
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
  await startSnapshot();
  await shot("04-new-snapshot-filled");
  await page.getByRole("button", { name: "Take snapshot" }).click();

  // 3. The job appears; record every value its progress bar and its
  // holders so far show until 100.
  const job = page.locator("li.job").first();
  await job.waitFor({ state: "visible" });
  const jobId = await job.getAttribute("data-job");
  await page.evaluate((id) => {
    window.__progressSeen = [];
    window.__holdersSeen = [];
    const sample = () => {
      const node = document.querySelector(`li[data-job="${id}"]`);
      const bar = node?.querySelector("progress");
      if (!bar) return;
      const value = Number(bar.getAttribute("value"));
      const seen = window.__progressSeen;
      if (seen[seen.length - 1] !== value) seen.push(value);
      const soFar = /([\d,]+) so far/.exec(node.querySelector(".job-facts")?.textContent ?? "");
      if (soFar) {
        const holders = Number(soFar[1].replaceAll(",", ""));
        const held = window.__holdersSeen;
        if (held[held.length - 1] !== holders) held.push(holders);
      }
    };
    sample();
    new MutationObserver(sample).observe(document.getElementById("jobs"), {
      subtree: true,
      childList: true,
      attributes: true,
      characterData: true,
    });
  }, jobId);
  const selector = `li[data-job="${jobId}"]`;
  // The ledger holds its requests after the first few: the job is part way.
  await page.locator(selector).getByText(/[1-9][\d,]* so far/).waitFor();
  await shot("05-job-running-holders-so-far");

  // 4. A second snapshot, cancelled while it waits on the held ledger.
  await startSnapshot();
  await page.getByRole("button", { name: "Take snapshot" }).click();
  const second = page.locator("li.job").first();
  await page.waitForFunction(
    (first) => document.querySelector("li.job")?.getAttribute("data-job") !== first,
    jobId,
    { timeout: WAIT, polling: 100 },
  );
  const cancelledId = await second.getAttribute("data-job");
  const secondSelector = `li[data-job="${cancelledId}"]`;
  await page.locator(secondSelector).getByRole("button", { name: "Cancel" }).click();
  // It ends while the ledger still holds its requests: cancelling does
  // not wait for the plugin's next batch.
  await page.locator(`${secondSelector} .badge.cancelled`).waitFor();
  await shot("06-second-job-cancelled");
  console.log(JSON.stringify({ release: true }));

  await page.waitForFunction(
    (s) => document.querySelector(`${s} progress`)?.getAttribute("value") === "100",
    selector,
    { timeout: WAIT, polling: 100 },
  );
  await page.locator(`${selector} .badge.completed`).waitFor();
  await page.locator(`${selector} .cids code`).first().waitFor();
  check(
    (await page.locator(secondSelector).getByRole("button", { name: "Cancel" }).count()) === 0,
    "a cancelled job offers no Cancel",
  );
  const progressSeen = await page.evaluate(() => window.__progressSeen);
  const holdersSeen = await page.evaluate(() => window.__holdersSeen);
  await shot("07-job-completed-second-cancelled");

  // 5. The snapshot view.
  await page.locator(selector).getByRole("link", { name: "Open snapshot" }).click();
  await page.locator("#snapshot-body").waitFor({ state: "visible" });
  await page.locator("#chart-cumulative svg").waitFor();
  await page.locator("#chart-histogram svg").waitFor();
  const facts = await page.locator("#snapshot-facts").innerText();
  const rows = await page.locator("#top-table tbody tr").count();
  check(rows > 0, "the top holders table has rows");
  await shot("08-snapshot-view");

  // 6. Download the CSV from the snapshot view.
  const [csvDownload] = await Promise.all([
    page.waitForEvent("download", { timeout: WAIT }),
    page.locator("#snapshot-actions").getByRole("button", { name: "Download CSV" }).click(),
  ]);
  const csv = join(outDir, "downloaded.csv");
  await csvDownload.saveAs(csv);
  await shot("09-csv-downloaded");

  // 7. A phone's width.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.locator("#snapshot-body").waitFor({ state: "visible" });
  await shot("10-phone-snapshot-view");
  await page.getByRole("link", { name: "Jobs", exact: true }).click();
  await page.locator(selector).waitFor();
  await shot("11-phone-jobs");
  await page.getByRole("link", { name: "Plugins", exact: true }).click();
  await page.locator("#plugins-denied").waitFor({ state: "visible" });
  await shot("12-phone-plugins-not-admin");

  // 8. The admin's plugins page: a file that is no component is refused
  // with the server's reason, a component is uploaded and removed again.
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.locator("#view-signin").waitFor({ state: "visible" });
  await signIn(adminToken);
  await page.getByRole("link", { name: "Plugins", exact: true }).click();
  const hederaRow = page.locator("#plugins-table tbody tr").filter({ hasText: "hedera" });
  await hederaRow.getByText("bundled", { exact: true }).waitFor();
  const plugins = await page.locator("#plugins-table tbody").innerText();
  await shot("13-plugins-admin");

  await page.getByLabel("Name", { exact: true }).fill("hedera");
  await page.getByLabel("Component (.wasm)").setInputFiles(badFile);
  await page.getByRole("button", { name: "Upload" }).click();
  await page.locator("#upload-error").waitFor({ state: "visible" });
  const uploadRefusal = await page.locator("#upload-error").innerText();
  await hederaRow.getByText("bundled", { exact: true }).waitFor();
  await shot("14-plugin-upload-refused");

  await page.getByLabel("Name", { exact: true }).fill("hedera");
  await page.getByLabel("Component (.wasm)").setInputFiles(pluginFile);
  await page.getByRole("button", { name: "Upload" }).click();
  await page.locator("#plugins-status").getByText("Plugin hedera").waitFor();
  const uploaded = await page.locator("#plugins-status").innerText();
  await hederaRow.getByText("hedera.wasm").waitFor();
  check(!(await page.locator("#upload-error").isVisible()), "the earlier refusal is gone");
  await shot("15-plugin-uploaded");

  page.once("dialog", (dialog) => dialog.accept());
  await hederaRow.getByRole("button", { name: "Remove hedera" }).click();
  await page.locator("#plugins-status").getByText("restored").waitFor();
  await hederaRow.getByText("bundled", { exact: true }).waitFor();
  const removed = await page.locator("#plugins-status").innerText();
  await shot("16-plugin-removed");

  check(problems.length === 0, `the page reported errors: ${problems.join("; ")}`);
  result = {
    jobId,
    cancelledId,
    csv,
    screenshots,
    progressSeen,
    holdersSeen,
    facts,
    rows,
    plugins,
    uploadRefusal,
    uploaded,
    removed,
    suggestedFilename: csvDownload.suggestedFilename(),
  };
} catch (e) {
  await page.screenshot({ path: join(outDir, "failure.png"), fullPage: true }).catch(() => {});
  console.error(`web e2e failed: ${e.stack || e}`);
  if (problems.length) console.error(`page problems: ${problems.join("; ")}`);
}
await context.close();
rmSync(profile, { recursive: true, force: true });
if (!result) process.exit(1);
console.log(JSON.stringify(result));
